"""A demo run killed with SIGKILL in the middle of extraction: nothing half-written is left, and a
plain rerun (the same command: pcgc removes the lock the killed Snakemake left, `profiles/default`
sets `rerun-incomplete`) resumes the killed jobs from their finished batches and writes the files
an uninterrupted run writes. Whether the rerun is started by hand (a new process group, the whole
old group killed) or by the retry script that ran the killed one (the same process group: the
script outlives the Snakemake it ran)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import children_of, sigkill_tree, sigkill_when
from tests.test_resume import assert_same, contents
from tests.workflow_helpers import copy_workflow, snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow

# One image per batch: 8 batches per extraction job, so that it can be killed between them.
UNTIL = ("--until", "extract")


def extraction_files(workdir: Path) -> dict[str, Path]:
    return {str(p.relative_to(workdir)): p for p in sorted((workdir / "results/tiny/extract").glob("*/*.h5"))}


def stored_batches(workdir: Path) -> bool:
    """Whether an extraction job has stored a batch (it is in the middle of its work)."""
    return any((workdir / "results/tiny/extract").glob("*/*.h5.batches/*.npz"))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """A workflow run up to extraction without interruption: its extraction files' contents, and the
    workflow as it was before extraction (world, weights, inputs), for each test to copy."""
    workdir = copy_workflow(tmp_path_factory.mktemp("uninterrupted"))
    write_config(workdir, tiny_config(**{"extraction.batch_size": 1}))
    snakemake(workdir, workdir / "test.yaml", *UNTIL)
    reference = {name: contents(path, cams=None) for name, path in extraction_files(workdir).items()}
    assert len(reference) >= 2
    shutil.rmtree(workdir / "results/tiny/extract")
    return workdir, reference


def before_extraction(uninterrupted, destination: Path) -> Path:
    """A copy of the workflow before extraction (file times kept: nothing upstream reruns)."""
    shutil.copytree(uninterrupted[0], destination, symlinks=True)
    return destination


def assert_killed_jobs_resumed(workdir: Path, killed: dict[Path, bool], reference: dict) -> None:
    """The extraction files equal the uninterrupted run's; the killed jobs that had stored batches
    resumed from them, those killed before their first batch computed everything; no batches are left."""
    finished = extraction_files(workdir)
    assert sorted(finished) == sorted(reference)
    for name, path in finished.items():
        assert_same(contents(path, cams=None), reference[name])
    for folder, had_batches in killed.items():
        output = folder.with_suffix("")
        assert not folder.exists()
        log = workdir / "results/tiny/logs" / output.relative_to(workdir / "results/tiny").with_suffix(".log")
        assert ("resumed:" in log.read_text()) == had_batches, (had_batches, log.read_text())


def killed_extractions(workdir: Path, reference: dict) -> dict[Path, bool]:
    """The `.batches` folders of the extractions that were killed mid-way, each with whether it had
    stored a batch (a job killed just after it started has its folder but nothing in it yet); the
    finished files equal the uninterrupted run's, and a killed job left no file under an output's name."""
    killed = {
        folder: any(folder.glob("*.npz"))
        for folder in (workdir / "results/tiny/extract").glob("*/*.h5.batches")
        if not folder.with_suffix("").exists()
    }
    assert any(killed.values()), f"no extraction was killed after storing a batch: {killed}"
    for name, path in extraction_files(workdir).items():
        assert_same(contents(path, cams=None), reference[name])
    return killed


def test_a_killed_run_completes_on_a_plain_rerun_and_equals_an_uninterrupted_one(uninterrupted, tmp_path):
    workdir = before_extraction(uninterrupted, tmp_path / "workflow")
    configfile = workdir / "test.yaml"
    # Snakemake in its own process group, the whole group SIGKILLed once a job has stored a batch.
    process = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", str(configfile), *UNTIL],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    sigkill_when(process, lambda: stored_batches(workdir), what="Snakemake", timeout=600, group=True)
    killed = killed_extractions(workdir, uninterrupted[1])

    # Snakemake's lock outlives a SIGKILL; pcgc.spec.stale_lock removes it, as nothing of that run lives.
    assert any((workdir / ".snakemake/locks").iterdir())
    result = snakemake(workdir, configfile, *UNTIL)  # --rerun-incomplete comes from profiles/default
    output = result.stdout + result.stderr
    assert "profiles/default" in output
    assert "removed the lock of a killed Snakemake run" in output
    assert_killed_jobs_resumed(workdir, killed, uninterrupted[1])


def test_a_retry_wrapper_finishes_a_killed_run_on_its_own_rerun(uninterrupted, tmp_path):
    # `sh -c 'snakemake ... || snakemake ...'`: no job control, so the rerun shares the process
    # group of the script and of the killed run. Snakemake and its jobs are SIGKILLed, the script
    # lives on and runs the same command again.
    workdir = before_extraction(uninterrupted, tmp_path / "workflow")
    command = f"{sys.executable} -m snakemake --cores 2 --configfile test.yaml {' '.join(UNTIL)}"
    log = tmp_path / "wrapper.log"
    with open(log, "w") as out:
        script = subprocess.Popen(
            ["sh", "-c", f"{command} || {{ echo RERUN; {command}; }}"], cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 600
        while not stored_batches(workdir):
            assert script.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no extraction stored a batch within 600 s"
            time.sleep(0.001)
        # The script's one child is the first Snakemake (its jobs are that Snakemake's children).
        first_run = children_of(script.pid)
        assert len(first_run) == 1, first_run
        killed_pids = sigkill_tree(first_run[0])
        assert len(killed_pids) >= 2, "Snakemake was killed without a job running"
        killed = killed_extractions(workdir, uninterrupted[1])
        script.wait(timeout=900)
    finally:
        if script.poll() is None:
            script.send_signal(signal.SIGKILL)
            script.wait()
    output = log.read_text()
    assert script.returncode == 0, output
    rerun = output.split("RERUN\n", 1)[1]
    assert "Directory cannot be locked" not in rerun
    assert "removed the lock of a killed Snakemake run" in rerun, rerun
    assert_killed_jobs_resumed(workdir, killed, uninterrupted[1])

