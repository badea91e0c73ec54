"""Compare two results folders of the same configuration: every table and every HDF5 dataset.

    python benchmarks/compare_results.py results/demo /elsewhere/results/demo
    python benchmarks/compare_results.py before/results/demo results/demo --ignore '*corruptions/*' --ignore 'robustness/*'

Tables (CSV, Parquet) are compared column by column, HDF5 files dataset by dataset (attributes
are listed when they differ: they hold versions, code fingerprints and timings, which may
legitimately differ), JSON files as values, checkpoints tensor by tensor. It prints each file whose
content differs with its largest absolute difference, and the largest difference overall; it exits
1 if a file is missing on one side or differs in shape, names or non-numeric values. `--ignore
PATTERN` (repeatable; shell-style, matched against the path under each folder, `*` crossing `/`)
leaves out the files of an analysis one run has and the other has not, e.g. the corruption
branches of a run compared with one from before them.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

# Files whose content records when and how a run happened, not what it computed.
SKIPPED_SUFFIXES = (".log", ".tsv", ".png", ".pdf", ".html")


def largest_difference(a: np.ndarray, b: np.ndarray, where: str) -> float:
    if a.shape != b.shape:
        raise ValueError(f"{where}: shapes {a.shape} and {b.shape}")
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        if not np.array_equal(np.isnan(a64), np.isnan(b64)):
            raise ValueError(f"{where}: NaN in different places")
        both = ~np.isnan(a64)
        return float(np.abs(a64[both] - b64[both]).max(initial=0.0))
    if a.dtype.kind in "iub" and b.dtype.kind in "iub":
        return float(np.abs(a.astype(np.int64) - b.astype(np.int64)).max(initial=0))
    if not np.array_equal(a, b):
        raise ValueError(f"{where}: values differ")
    return 0.0


def compare_table(a: pd.DataFrame, b: pd.DataFrame, where: str) -> float:
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        raise ValueError(f"{where}: columns {list(a.columns)} / {list(b.columns)}, rows {len(a)} / {len(b)}")
    worst = 0.0
    for column in a.columns:
        x, y = a[column], b[column]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            worst = max(worst, largest_difference(x.to_numpy(dtype=np.float64, na_value=np.nan), y.to_numpy(dtype=np.float64, na_value=np.nan), f"{where}:{column}"))
        elif not x.astype(str).equals(y.astype(str)):
            raise ValueError(f"{where}: column {column} differs")
    return worst


def compare_h5(a: Path, b: Path, where: str, notes: list[str]) -> float:
    worst = 0.0
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names_a, names_b = [], []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        if sorted(names_a) != sorted(names_b):
            raise ValueError(f"{where}: datasets {sorted(set(names_a) ^ set(names_b))} on one side only")
        for name in sorted(names_a):
            if set(fa[name].attrs) != set(fb[name].attrs) or any(
                not np.array_equal(np.asarray(fa[name].attrs[k]), np.asarray(fb[name].attrs[k])) for k in fa[name].attrs
            ):
                notes.append(f"{where}:{name}: attributes differ")
            if isinstance(fa[name], h5py.Dataset):
                worst = max(worst, largest_difference(fa[name][()], fb[name][()], f"{where}:{name}"))
        if any(not np.array_equal(np.asarray(fa.attrs[k]), np.asarray(fb.attrs.get(k))) for k in fa.attrs):
            notes.append(f"{where}: root attributes differ ({', '.join(k for k in fa.attrs if not np.array_equal(np.asarray(fa.attrs[k]), np.asarray(fb.attrs.get(k))))})")
    return worst


def compare_checkpoint(a: Path, b: Path, where: str) -> float:
    import torch

    sa, sb = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    if sorted(sa) != sorted(sb):
        raise ValueError(f"{where}: keys differ")
    return max((largest_difference(sa[k].numpy(), sb[k].numpy(), f"{where}:{k}") for k in sa), default=0.0)


def compare(a: Path, b: Path, where: str, notes: list[str]) -> float:
    if a.suffix == ".csv":
        return compare_table(pd.read_csv(a), pd.read_csv(b), where)
    if a.suffix == ".parquet":
        return compare_table(pd.read_parquet(a), pd.read_parquet(b), where)
    if a.suffix == ".h5":
        return compare_h5(a, b, where, notes)
    if a.suffix == ".pth":
        return compare_checkpoint(a, b, where)
    if a.suffix == ".json":
        if json.loads(a.read_text()) != json.loads(b.read_text()):
            notes.append(f"{where}: JSON values differ")
        return 0.0
    if a.read_bytes() != b.read_bytes():
        notes.append(f"{where}: bytes differ")
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--ignore", action="append", default=[], metavar="PATTERN", help="leave out the files whose path matches")
    args = parser.parse_args()

    def files(root: Path) -> set[Path]:
        found = {p.relative_to(root) for p in root.rglob("*") if p.is_file() and p.suffix not in SKIPPED_SUFFIXES}
        return {p for p in found if not any(fnmatch.fnmatch(p.as_posix(), pattern) for pattern in args.ignore)}

    first, second = files(args.first), files(args.second)
    problems = [f"{p}: only in {args.first}" for p in sorted(first - second)]
    problems += [f"{p}: only in {args.second}" for p in sorted(second - first)]
    notes: list[str] = []
    worst, compared = 0.0, 0
    for relative in sorted(first & second):
        try:
            difference = compare(args.first / relative, args.second / relative, str(relative), notes)
        except ValueError as error:
            problems.append(str(error))
            continue
        compared += 1
        if difference > 0:
            print(f"{relative}: largest absolute difference {difference:.3g}")
        worst = max(worst, difference)
    for line in notes:
        print(f"note: {line}")
    for line in problems:
        print(f"DIFFERS: {line}")
    print(f"{compared} files compared; largest absolute difference {worst:.3g}; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
