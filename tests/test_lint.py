"""The workflow passes Snakemake's linter, and its Snakefile and rules are snakefmt-formatted."""

from __future__ import annotations

import subprocess
import sys

from tests.workflow_helpers import REPO, copy_workflow


def test_snakemake_lint_reports_nothing(tmp_path):
    workdir = copy_workflow(tmp_path)
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=workdir, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Lints for" not in output and "your workflow is in a good condition" in output, output


def test_the_snakefile_and_rules_are_snakefmt_formatted():
    # snakefmt reads its settings (line length) from pyproject.toml.
    files = [str(REPO / "Snakefile"), *sorted(str(path) for path in (REPO / "rules").glob("*.smk"))]
    result = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "--diff", *files], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
