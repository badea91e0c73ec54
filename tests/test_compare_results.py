"""benchmarks/compare_results.py: the check that two runs computed the same thing finds what differs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_results.py"


def write_run(root: Path, value: float, *, label: str = "a", extra: bool = False) -> Path:
    (root / "tables").mkdir(parents=True)
    pd.DataFrame({"x": [1.0, np.nan, value], "name": ["p", "q", label]}).to_csv(root / "tables/t.csv", index=False)
    pd.DataFrame({"y": [value, 2.0]}).to_parquet(root / "tables/t.parquet")
    with h5py.File(root / "maps.h5", "w") as h5:
        h5.create_dataset("group/cam", data=np.full((2, 3), value, dtype=np.float32))
        h5.attrs["seconds"] = value  # attributes differ between runs without being a difference
    (root / "run.log").write_text(f"took {value} s\n")  # logs are not compared
    if extra:
        (root / "tables/more.csv").write_text("z\n1\n")
    return root


def compare(first: Path, second: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(first), str(second), *options], capture_output=True, text=True, timeout=120)


def test_identical_runs_have_no_difference(tmp_path):
    result = compare(write_run(tmp_path / "a", 0.5), write_run(tmp_path / "b", 0.5))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 files compared; largest absolute difference 0; 0 problems" in result.stdout


def test_a_numeric_difference_is_measured_in_every_format(tmp_path):
    result = compare(write_run(tmp_path / "a", 0.5), write_run(tmp_path / "b", 0.75))
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("tables/t.csv", "tables/t.parquet", "maps.h5"):
        assert f"{name}: largest absolute difference 0.25" in result.stdout
    assert "largest absolute difference 0.25; 0 problems" in result.stdout
    assert "maps.h5: root attributes differ (seconds)" in result.stdout


def test_other_labels_and_missing_files_are_problems(tmp_path):
    result = compare(write_run(tmp_path / "a", 0.5, extra=True), write_run(tmp_path / "b", 0.5, label="other"))
    assert result.returncode == 1
    assert "DIFFERS: tables/more.csv: only in" in result.stdout
    assert "DIFFERS: tables/t.csv: column name differs" in result.stdout


def test_ignored_files_are_left_out_on_both_sides(tmp_path):
    first, second = write_run(tmp_path / "a", 0.5, extra=True), write_run(tmp_path / "b", 0.5)
    (second / "tables/corruptions").mkdir()
    (second / "tables/corruptions/c.csv").write_text("z\n2\n")
    result = compare(first, second, "--ignore", "*/more.csv", "--ignore", "*corruptions/*")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 files compared; largest absolute difference 0; 0 problems" in result.stdout
