"""Every cluster job parses the workflow again: parsing must import only pcgc's torch-free `spec`
tier (tests/test_tiers.py), and must be quick."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.workflow_helpers import copy_workflow

# Runs Snakemake's command line in this process, then reports what it imported and its CPU time.
PROBE = textwrap.dedent(
    """
    import json, resource, sys
    from snakemake.cli import main
    sys.argv = ["snakemake", "--dry-run", "--cores", "1"]
    try:
        main()
    except SystemExit as stop:
        code = stop.code
    usage = resource.getrusage(resource.RUSAGE_SELF)
    heavy = sorted(name for name in ("torch", "torchvision", "h5py") if name in sys.modules)
    package = sorted(name for name in sys.modules if name == "pcgc" or name.startswith("pcgc."))
    print("PROBE" + json.dumps({"code": code, "heavy": heavy, "pcgc": package, "cpu": usage.ru_utime + usage.ru_stime}))
    """
)


def test_a_dry_run_imports_only_the_spec_tier_and_takes_under_3_cpu_seconds(tmp_path):
    workdir = copy_workflow(tmp_path)
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=workdir, capture_output=True, text=True, timeout=300)
    line = next((l for l in result.stdout.splitlines() if l.startswith("PROBE")), None)
    assert line is not None, result.stdout + result.stderr
    probe = json.loads(line.removeprefix("PROBE"))
    assert probe["code"] in (0, None), result.stdout + result.stderr
    assert "Job stats:" in result.stdout + result.stderr  # it planned the whole default workflow
    assert probe["heavy"] == []
    assert "pcgc.spec.config" in probe["pcgc"]  # the probe sees the workflow's imports
    outside = [name for name in probe["pcgc"] if name not in ("pcgc", "pcgc.spec") and not name.startswith("pcgc.spec.")]
    assert outside == [], f"parsing the workflow imported {outside}, outside pcgc.spec"
    # CPU time, not wall time: on CI's 2 idle cores the two agree; on a shared machine wall time
    # measures the neighbours. Snakemake's own start-up is about half of it.
    assert probe["cpu"] < 3.0, f"parsing and planning took {probe['cpu']:.2f} CPU seconds"
