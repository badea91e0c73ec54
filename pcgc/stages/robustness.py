"""Stage: the robustness of one hyperparameter set to its corruption branches, beside their
localisation scores (docs/corruptions.md, "Robustness beside localisation").

Reads each branch's extraction (the top-1 class and the label at every timestep) and its
bootstrap table, and writes three tables (CSV, docs/outputs.md, "Robustness tables"):

* `errors.csv`: per family, severity and timestep, the top-1 error and its ratio to t = 0;
* `ce.csv`: per family and timestep the corruption error CE_f(t) (summed over the severities run)
  and CE_f(t) / CE_f(0); rows of family `all` hold mCE(t) and mCE(t) / mCE(0);
* `localisation.csv`: every branch's bootstrap table (every score of the long table, with its
  intervals and paired tests against t = 0), one after the other, with the family's group.

The label is the extraction's `cam_target` (selection.cam_target): `original` is the ImageNet-1k
label Predify's mCE counts errors against; `imagenet_s` the image's ImageNet-S class, which differs
for the images ImageNet-S re-labelled or merged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pcgc.analysis.robustness import ALL_FAMILIES, robustness_tables
from pcgc.spec.corruptions import FAMILIES
from pcgc.storage.atomic import atomic_path
from pcgc.storage.h5io import open_h5, read_json_attr, require_datasets

log = logging.getLogger(__name__)


def read_wrong(extractions: Sequence[Path], branches: Sequence[Mapping[str, Any]]) -> tuple[dict[tuple[str, int], np.ndarray], str]:
    """Per branch (family, severity): [N, T+1], True where the top-1 class is not the label; and
    the label's kind (the extractions' cam_target). Every branch must hold the same images."""
    if len(extractions) != len(branches) or not branches:
        raise ValueError(f"{len(extractions)} extractions for {len(branches)} corruption branches")
    wrong, first, kinds = {}, None, set()
    for path, branch in zip(extractions, branches):
        with open_h5(path) as h5:
            require_datasets(h5, ["image_id", "top1", "cam_target"], path)
            corruption = read_json_attr(h5, "corruption", path)
            if (corruption["family"], corruption["severity"]) != (branch["family"], branch["severity"]):
                raise ValueError(f"{path}: holds {corruption['family']} at severity {corruption['severity']}, expected {branch}")
            ids = list(h5["image_id"].asstr()[:])
            if first is None:
                first = (path, ids)
            elif ids != first[1]:
                raise ValueError(f"{path}: its images are not those of {first[0]}; every corruption branch must run the same images")
            wrong[(branch["family"], int(branch["severity"]))] = h5["top1"][:] != h5["cam_target"][:][:, None]
            kinds.add(read_json_attr(h5, "cam_target", path))
    if len(kinds) != 1:
        raise ValueError(f"the extractions count errors against different labels: {sorted(kinds)}")
    return wrong, kinds.pop()


def joined_summaries(summaries: Sequence[Path], branches: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The branches' bootstrap tables one after the other, with the family's group beside it."""
    parts = []
    for path, branch in zip(summaries, branches):
        table = pd.read_csv(path)
        if "family" not in table.columns or set(zip(table["family"], table["severity"])) != {(branch["family"], branch["severity"])}:
            raise ValueError(f"{path}: not the bootstrap table of {branch['family']} at severity {branch['severity']}")
        table.insert(table.columns.get_loc("family") + 1, "group", FAMILIES[branch["family"]].group)
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


def robustness(
    extractions: Sequence[Path],
    summaries: Sequence[Path],
    branches: Sequence[Mapping[str, Any]],
    out_errors: Path,
    out_ce: Path,
    out_localisation: Path,
    *,
    hyperparameter_set: str,
    resamples: int,
    seed: int,
    confidence: float,
    alexnet: bool,
) -> None:
    wrong, label = read_wrong(extractions, branches)
    errors, ce = robustness_tables(wrong, resamples=resamples, seed=seed, confidence=confidence, alexnet=alexnet)
    localisation = joined_summaries(summaries, branches)
    for table in (errors, ce):
        table.insert(0, "hyperparameter_set", hyperparameter_set)
        table["label"] = label
    for path, table in ((out_errors, errors), (out_ce, ce), (out_localisation, localisation)):
        with atomic_path(path) as tmp:
            table.to_csv(tmp, index=False)
    for _, rows in ce.groupby("family", sort=False):
        first, last = rows.iloc[0], rows.iloc[-1]
        name = "mCE" if first["family"] == ALL_FAMILIES else f"CE {first['family']}"
        log.info(
            "%s, %s: %.3f at t = 0, %.3f at t = %d (ratio %.3f, %g%% interval %.3f-%.3f)",
            hyperparameter_set, name, first["ce"], last["ce"], last["timestep"], last["ratio"],
            100 * confidence, last["ratio_ci_low"], last["ratio_ci_high"],
        )
