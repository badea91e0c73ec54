"""A demo run killed with SIGKILL (Snakemake and its jobs, the whole process group) in the middle of
extraction: nothing half-written is left, and a plain rerun (the same command: pcgc removes the
lock the killed Snakemake left, `profiles/default` sets `rerun-incomplete`) resumes the killed jobs
from their finished batches and writes the files an uninterrupted run writes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import sigkill_when
from tests.test_resume import assert_same, contents
from tests.workflow_helpers import copy_workflow, snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow

# One image per batch: 8 batches per extraction job, so that it can be killed between them.
UNTIL = ("--until", "extract")


def extraction_files(workdir: Path) -> dict[str, Path]:
    return {str(p.relative_to(workdir)): p for p in sorted((workdir / "results/tiny/extract").glob("*/*.h5"))}


def kill_during_extraction(workdir: Path, configfile: Path) -> None:
    """Run Snakemake in its own process group and SIGKILL the group once an extraction job has
    stored a batch (and before it has written its output)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", str(configfile), *UNTIL],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    batches = workdir / "results/tiny/extract"
    sigkill_when(process, lambda: any(batches.glob("*/*.h5.batches/*.npz")), what="Snakemake", timeout=600, group=True)


def test_a_killed_run_completes_on_a_plain_rerun_and_equals_an_uninterrupted_one(tmp_path):
    workdir = copy_workflow(tmp_path / "workflow")
    config = tiny_config(**{"extraction.batch_size": 1})
    configfile = write_config(workdir, config)
    snakemake(workdir, configfile, *UNTIL)
    reference = {name: contents(path, cams=None) for name, path in extraction_files(workdir).items()}
    assert len(reference) >= 2
    shutil.rmtree(workdir / "results/tiny/extract")

    kill_during_extraction(workdir, configfile)
    # A killed job leaves no file under an output's name: only finished outputs and batches.
    killed = [p for p in (workdir / "results/tiny/extract").glob("*/*.h5.batches") if not p.with_suffix("").exists()]
    assert killed, "no extraction was killed mid-way"
    for name, path in extraction_files(workdir).items():
        assert_same(contents(path, cams=None), reference[name])

    # Snakemake's lock outlives a SIGKILL; pcgc.spec.stale_lock removes it, as nothing of that run lives.
    assert any((workdir / ".snakemake/locks").iterdir())
    result = snakemake(workdir, configfile, *UNTIL)  # --rerun-incomplete comes from profiles/default
    output = result.stdout + result.stderr
    assert "profiles/default" in output
    assert "removed the lock of a killed Snakemake run" in output
    finished = extraction_files(workdir)
    assert sorted(finished) == sorted(reference)
    for name, path in finished.items():
        assert_same(contents(path, cams=None), reference[name])
    for folder in killed:
        output = folder.with_suffix("")
        assert not folder.exists()
        log = workdir / "results/tiny/logs" / output.relative_to(workdir / "results/tiny").with_suffix(".log")
        assert "resumed:" in log.read_text(), log.read_text()
