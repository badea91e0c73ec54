"""Convergence diagnostics: the per-timestep table from an extraction file and an IoU table, and
its figure."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from pcgc.analysis.convergence import convergence_table
from pcgc.figures.diagnostics import plot_convergence

IMAGES, STATES, PCODERS = 3, 4, 2


def _extraction(path):
    rng = np.random.default_rng(0)
    arrays = {
        "prediction_error": rng.random((IMAGES, STATES, PCODERS)).astype("f4"),
        "top1": np.array([[0, 1, 1, 1], [2, 2, 0, 2], [1, 1, 1, 0]], dtype="i4"),
        "cam_target": np.array([1, 2, 1]),
        "target_logit": rng.normal(size=(IMAGES, STATES)).astype("f4"),
        "representation_change": np.concatenate([np.full((IMAGES, 1), np.nan), rng.random((IMAGES, STATES - 1))], 1).astype("f4"),
    }
    with h5py.File(path, "w") as h5:
        for name, data in arrays.items():
            h5.create_dataset(name, data=data)
    return arrays


def _iou(path):
    """A long score table (pcgc.stages.score): IoU at two thresholds and a metric without parameter."""
    rng = np.random.default_rng(1)
    scores = [("iou", 0.3), ("iou", 0.5), ("energy_pointing", None)]
    rows = [
        {"hyperparameter_set": "hps_0", "sigma": 0.0, "image_index": i, "image_id": f"im{i}", "timestep": t,
         "method": method, "layer": layer, "metric": metric, "parameter": parameter,
         "value": rng.random(), "correct": True, "target_logit": 0.0}
        for method in ("gradcam", "eigencam") for layer in ("pcoder1", "pcoder2") for metric, parameter in scores
        for i in range(IMAGES) for t in range(STATES)
    ]
    table = pd.DataFrame(rows)
    table.to_parquet(path)
    return table


def test_the_table_is_the_per_timestep_mean_of_the_files(tmp_path):
    arrays = _extraction(tmp_path / "x.h5")
    iou = _iou(tmp_path / "iou.parquet")
    table = convergence_table(tmp_path / "x.h5", tmp_path / "iou.parquet", threshold=0.5)
    assert list(table["timestep"]) == [0, 1, 2, 3]
    np.testing.assert_allclose(table["top1_accuracy"], [2 / 3, 1, 2 / 3, 2 / 3])
    np.testing.assert_allclose(table["target_logit"], arrays["target_logit"].astype(np.float64).mean(0))
    assert np.isnan(table["representation_change"][0])
    np.testing.assert_allclose(table["representation_change"][1:], arrays["representation_change"][:, 1:].astype(np.float64).mean(0))
    for n in (1, 2):
        np.testing.assert_allclose(table[f"prediction_error_pcoder{n}"], arrays["prediction_error"][:, :, n - 1].astype(np.float64).mean(0))
    chosen = iou[(iou["method"] == "gradcam") & (iou["layer"] == "pcoder2") & (iou["metric"] == "iou") & (iou["parameter"] == 0.5)]
    np.testing.assert_allclose(table["iou"], chosen.groupby("timestep")["value"].mean())


def test_missing_iou_rows_are_named(tmp_path):
    _extraction(tmp_path / "x.h5")
    _iou(tmp_path / "iou.parquet")
    with pytest.raises(ValueError, match=r"iou.parquet: no IoU rows for gradcam on pcoder2 at threshold 0.7"):
        convergence_table(tmp_path / "x.h5", tmp_path / "iou.parquet", threshold=0.7)
    # One image's row of Grad-CAM on the top layer missing at one timestep.
    table = pd.read_parquet(tmp_path / "iou.parquet")
    keep = ~(
        (table["method"] == "gradcam") & (table["layer"] == "pcoder2") & (table["metric"] == "iou")
        & (table["image_index"] == 1) & (table["timestep"] == 2)
    )
    table[keep].to_parquet(tmp_path / "short.parquet")
    with pytest.raises(ValueError, match=r"short.parquet: .* expected one per image and timestep \(3 x 4\)"):
        convergence_table(tmp_path / "x.h5", tmp_path / "short.parquet", threshold=0.5)


def test_a_missing_dataset_is_named(tmp_path):
    _extraction(tmp_path / "x.h5")
    _iou(tmp_path / "iou.parquet")
    with h5py.File(tmp_path / "x.h5", "a") as h5:
        del h5["representation_change"]
    with pytest.raises(KeyError, match=r"x.h5: dataset\(s\) \['representation_change'\] missing"):
        convergence_table(tmp_path / "x.h5", tmp_path / "iou.parquet", threshold=0.5)


def test_the_figure_is_written(tmp_path):
    _extraction(tmp_path / "x.h5")
    _iou(tmp_path / "iou.parquet")
    table = convergence_table(tmp_path / "x.h5", tmp_path / "iou.parquet", threshold=0.5)
    outputs = [tmp_path / "d.png", tmp_path / "d.pdf"]
    plot_convergence(table, outputs, title="t", iou_label="IoU")
    assert all(path.stat().st_size > 1000 for path in outputs)
    with pytest.raises(ValueError, match=r"lacks columns \['iou'\]"):
        plot_convergence(table.drop(columns="iou"), outputs, title="t", iou_label="IoU")
