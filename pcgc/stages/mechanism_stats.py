"""Stage: the mechanism's statistics at one noise level or corruption (docs/mechanism.md,
docs/outputs.md). Every table starts with the perturbation's columns: `sigma`, or `family` and
`severity`.

Inputs, per condition (`trained` and each control): its extraction file, with `recovery/{reference}`
[images, T+1, N], and its per-image score table (Grad-CAM on the top layer). Outputs (CSV):

* `recovery.csv`: per condition, reference, PCoder and timestep, the bootstrap of the mean of
  d_n(t) over images (`pcgc.analysis.bootstrap.bootstrap_timesteps`: mean, boot_sd, interval and
  the ratio d_n(t)/d_n(0) with its own bootstrap);
* `controls.csv`: per control and per-image score, the paired difference control - trained at each
  timestep on the same images (`pcgc.analysis.paired.paired_between`: bootstrap of the mean
  difference, Wilcoxon, Holm over t = 1..T, rank-biserial), `n_excluded` images whose score is
  undefined in either condition;
* `link.csv`: per condition and per-image score, the rank correlation over images between the
  change from t = 0 of d_top(t) (reference `same_t`) and of the score (`pcgc.analysis.mechanism`);
* `per_image.csv`: per condition, image and timestep, d_top(t) and the chosen score: the points of
  the mechanism figure's scatter.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from pcgc.analysis.bootstrap import bootstrap_timesteps
from pcgc.analysis.mechanism import recovery_link
from pcgc.analysis.paired import paired_between
from pcgc.spec.controls import TRAINED
from pcgc.spec.layers import layer_name
from pcgc.spec.metrics import DATASET_ROW
from pcgc.storage.atomic import atomic_path
from pcgc.storage.h5io import open_h5, read_json_attr, require_datasets

log = logging.getLogger(__name__)

LINK_REFERENCE = "same_t"
"""The link and the scatter use Predify's distance: to the clean run at the same timestep."""


def read_recovery(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """reference -> d [images, T+1, N] of an extraction file, and its image ids."""
    with open_h5(path) as h5:
        require_datasets(h5, ["image_id"], path)
        if "recovery" not in h5:
            raise ValueError(f"{path}: no recovery datasets; it was not extracted as a condition of the mechanism")
        return {name: h5["recovery"][name][:] for name in sorted(h5["recovery"])}, list(h5["image_id"].asstr()[:])


def score_matrices(table: pd.DataFrame, where: str) -> dict[tuple[str, float | None], pd.DataFrame]:
    """(metric, parameter) -> values [image_index x timestep] of each per-image score of a table
    (one method and layer: Grad-CAM on the top layer)."""
    per_image = table[table["image_index"] != DATASET_ROW]
    if per_image.empty:
        raise ValueError(f"{where}: no per-image scores")
    if per_image[["method", "layer"]].drop_duplicates().shape[0] != 1:
        raise ValueError(f"{where}: expected the scores of one map, got {per_image[['method', 'layer']].drop_duplicates().values.tolist()}")
    out = {}
    for (metric, parameter), rows in per_image.groupby(["metric", "parameter"], dropna=False, sort=True):
        # None, not NaN, for no parameter: NaN keys never compare equal.
        out[(metric, None if pd.isna(parameter) else float(parameter))] = rows.pivot(index="image_index", columns="timestep", values="value").sort_index(axis=1)
    return out


def _defined_pair(a: pd.DataFrame, b: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int]:
    """The rows of two [image x timestep] tables where both are defined at every timestep."""
    if not a.index.equals(b.index):
        raise ValueError("the two conditions' score tables hold different images")
    defined = ~(a.isna().any(axis=1) | b.isna().any(axis=1))
    return a[defined].to_numpy(), b[defined].to_numpy(), int((~defined).sum())


def mechanism_statistics(
    extractions: Mapping[str, Path],
    scores: Mapping[str, Path],
    out: Mapping[str, Path],
    *,
    metric: str,
    parameter: float | None,
    resamples: int,
    seed: int,
    confidence: float,
    perturbation: Mapping[str, Any],
) -> None:
    """Write `out["recovery"]`, `out["controls"]`, `out["link"]` and `out["per_image"]` (module
    docstring). `perturbation`: the branch's columns, `{"sigma": s}` or `{"family": f, "severity": n}`;
    every extraction must have run at it."""
    if TRAINED not in extractions or set(extractions) != set(scores):
        raise ValueError(f"need the extraction and scores of {TRAINED} and of every control; got {sorted(extractions)} and {sorted(scores)}")
    settings = dict(resamples=resamples, seed=seed, confidence=confidence)
    recovery_rows, control_rows, link_rows, image_rows = [], [], [], []
    matrices, image_ids = {}, None
    for condition, path in extractions.items():
        distances, ids = read_recovery(path)
        with open_h5(path) as h5:
            recorded = _recorded_perturbation(h5, path)
        if not _same_perturbation(recorded, perturbation):
            raise ValueError(f"{path}: extracted at {recorded}, expected {dict(perturbation)}")
        if image_ids is None:
            image_ids = ids
        elif ids != image_ids:
            raise ValueError(f"{path}: its images are not those of {extractions[TRAINED]}")
        if LINK_REFERENCE not in distances:
            raise ValueError(f"{path}: the link needs recovery reference {LINK_REFERENCE!r}; has {sorted(distances)}")
        for reference, d in distances.items():
            for n in range(d.shape[2]):
                finite = np.isfinite(d[:, :, n]).all(1)
                summary = bootstrap_timesteps(d[finite, :, n], **settings)
                summary.insert(0, "n_excluded", int((~finite).sum()))
                summary.insert(0, "pcoder", layer_name(n, d.shape[2]))
                summary.insert(0, "reference", reference)
                summary.insert(0, "condition", condition)
                recovery_rows.append(summary)
        table = pd.read_parquet(scores[condition])
        matrices[condition] = score_matrices(table, str(scores[condition]))
        # The score tables' rows are the extraction's images in its order (both in selection order).
        scored = table[table["image_index"] != DATASET_ROW].drop_duplicates("image_index").sort_values("image_index")
        if list(scored["image_id"]) != ids:
            raise ValueError(f"{scores[condition]}: its images are not those of {path}")
        image_index = scored["image_index"].to_numpy()
        top = distances[LINK_REFERENCE][:, :, -1]
        for (name, value), matrix in matrices[condition].items():
            link = recovery_link(top, matrix.to_numpy(), **settings)
            for column, entry in (("parameter", value), ("metric", name), ("condition", condition)):
                link.insert(0, column, entry)
            link_rows.append(link)
        chosen = _chosen(matrices[condition], metric, parameter, scores[condition])
        steps = np.arange(top.shape[1])
        image_rows.append(
            pd.DataFrame(
                {
                    "condition": condition,
                    "image_index": np.repeat(image_index, len(steps)),
                    "image_id": np.repeat(np.asarray(ids, dtype=object), len(steps)),
                    "timestep": np.tile(steps, top.shape[0]),
                    "d_top": top.ravel().astype(np.float64),
                    "score": chosen.to_numpy().ravel(),
                }
            )
        )
    for condition in extractions:
        if condition == TRAINED:
            continue
        for key, table in matrices[condition].items():
            if key not in matrices[TRAINED]:
                raise ValueError(f"{scores[condition]}: score {key} is missing from {scores[TRAINED]}")
            values, reference, excluded = _defined_pair(table, matrices[TRAINED][key])
            paired = paired_between(values, reference, **settings)
            paired.insert(0, "n_excluded", excluded)
            paired.insert(0, "n_images", values.shape[0])
            for column, entry in (("parameter", key[1]), ("metric", key[0]), ("condition", condition)):
                paired.insert(0, column, entry)
            control_rows.append(paired)
            if key[0] == metric:
                last = paired.iloc[-1]
                log.info(
                    "%s - %s, %s at t = %d: %+.4f [%.4f, %.4f], Holm p = %.2g",
                    condition, TRAINED, metric, int(last["timestep"]), last["delta_mean"], last["delta_ci_low"],
                    last["delta_ci_high"], last["p_holm"],
                )
    tables = {
        "recovery": pd.concat(recovery_rows, ignore_index=True),
        "controls": pd.concat(control_rows, ignore_index=True) if control_rows else pd.DataFrame(columns=["condition"]),
        "link": pd.concat(link_rows, ignore_index=True),
        "per_image": pd.concat(image_rows, ignore_index=True),
    }
    for name, table in tables.items():
        for column, value in reversed(list(perturbation.items())):
            table.insert(0, column, value)
        with atomic_path(out[name]) as tmp:
            table.to_csv(tmp, index=False)


def _recorded_perturbation(h5: Any, path: Path) -> dict[str, Any]:
    """The columns of the perturbation an extraction ran at, from its attributes."""
    if "noise" in h5.attrs:
        return {"sigma": float(read_json_attr(h5, "noise", path)["sigma"])}
    corruption = read_json_attr(h5, "corruption", path)
    return {"family": corruption["family"], "severity": int(corruption["severity"])}


def _same_perturbation(recorded: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    if recorded.keys() != expected.keys():
        return False
    if "sigma" in recorded:
        return bool(np.isclose(recorded["sigma"], float(expected["sigma"])))
    return dict(recorded) == dict(expected)


def _chosen(matrices: Mapping[tuple[str, float | None], pd.DataFrame], metric: str, parameter: float | None, where: Path) -> pd.DataFrame:
    for (name, value), table in matrices.items():
        if name == metric and ((parameter is None and value is None) or (None not in (parameter, value) and np.isclose(value, parameter))):
            return table
    raise ValueError(f"{where}: no {metric} scores at parameter {parameter}; present: {sorted(matrices)}")
