"""Sweep chunks against extract + IoU, chunking invariance, and the merged and summarised tables."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest

from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.metrics import configured_scores, iou_scores
from pcgc.spec.sweeps import sweep_cells, unique_configurations
from pcgc.stages.extract import extract
from pcgc.stages.score import score_extraction
from pcgc.stages.sweep_chunk import run_chunk
from pcgc.stages.sweep_maps import merge_maps
from pcgc.stages.sweep_merge import merge_sweep
from pcgc.stages.sweep_summary import summarize_sweep
from tests.conftest import random_mini
from tests.stage_fixtures import stage_network, write_stage_inputs

FEEDBACK = (True, True, True, True, False)
THRESHOLDS = [0.3, 0.5]
SCORES = iou_scores(THRESHOLDS)
# Every per-image metric of the registry, for the sweep-against-extraction comparison.
EVERY = configured_scores(
    {"metrics": ["iou", "energy_pointing", "pointing_game", "auroc", "average_precision"], "thresholds": THRESHOLDS, "pointing_tolerances": [0, 2]}
)
GRID = [0.0, 0.5, 1.0]
SINGLE = sweep_cells({"kind": "single_pcoder", "pcoders": [1, 3, 5], "beta": GRID, "lambda": GRID, "alpha": 0.05}, FEEDBACK)
SHARED = sweep_cells({"kind": "shared", "beta": [0.2, 0.6], "lambda": [0.0, 0.4], "alpha": 0.05}, FEEDBACK)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_stage_inputs(tmp_path_factory.mktemp("stage"), random_mini(2, 4), count=8)


def chunk(files, folder, name, configurations, *, batch_size=4, n_images="all", store_maps="none", precision="fp32", scores=SCORES):
    out = folder / f"{name}.h5"
    run_chunk(
        stage_network(files, precision=precision), configurations=configurations, n_images=n_images, image_seed=0, timesteps=3,
        scores=scores, store_maps=store_maps, batch_size=batch_size, out_h5=out,
        out_manifest=folder / f"{name}.json",
    )
    return out


@pytest.mark.slow
def test_sweep_scores_equal_extract_and_score_for_each_configuration(files, tmp_path):
    # Sampled: frozen prefixes (PCoders 3 and 5 alone), lambda = 0 (no predictor above), the top
    # PCoder, shared configurations; split over two chunks. Every per-image metric, plus PxAP in
    # the extraction's table.
    sampled = [SINGLE[k].configuration for k in (1, 4, 8, 10, 14, 16)] + [c.configuration for c in SHARED[1:3]]
    paths = [chunk(files, tmp_path, "a", sampled[:5], scores=EVERY), chunk(files, tmp_path, "b", sampled[5:], scores=EVERY)]
    changed = 0
    for k, configuration in enumerate(sampled):
        path, position = (paths[0], k) if k < 5 else (paths[1], k - 5)
        extraction, table = tmp_path / f"extract{k}.h5", tmp_path / f"scores{k}.parquet"
        extract(
            stage_network(files), hps_name=f"c{k}", timesteps=3, batch_size=4, out_h5=extraction,
            hps=HyperParameters(configuration.beta, configuration.lam, configuration.alpha),
        )
        score_extraction(extraction, files["selection"], EVERY + configured_scores(
            {"metrics": ["pxap"], "thresholds": [], "pointing_tolerances": []}), table, hyperparameter_set=f"c{k}", perturbation={"sigma": 0.0})
        alone = pd.read_parquet(table)
        pooled = alone[alone["metric"] == "pxap"]
        assert list(pooled["image_index"]) == [-1] * 4 and pooled["correct"].isna().all() and pooled["value"].between(0, 1).all()
        with h5py.File(path) as h5:
            swept = h5["scores"][position]  # [N, T+1, K]
            correct = h5["correct"][position]
        for j, score in enumerate(EVERY):
            rows = alone[(alone["metric"] == score.metric) & (alone["parameter"].fillna(-1) == (-1 if score.parameter is None else score.parameter))]
            expected = rows.sort_values(["image_index", "timestep"])["value"].to_numpy().reshape(8, 4)
            np.testing.assert_allclose(swept[..., j], expected, rtol=0, atol=1e-5, err_msg=str(score))
            np.testing.assert_array_equal(correct, rows.sort_values(["image_index", "timestep"])["correct"].to_numpy(bool).reshape(8, 4))
        changed += not np.array_equal(swept[:, 1:], np.broadcast_to(swept[:, :1], swept[:, 1:].shape))
    assert changed >= 4, "degenerate test: the dynamics should move the scores of most configurations"


@pytest.mark.slow
@pytest.mark.parametrize("batch_size", [4, 12])  # 12: three configurations per device batch, padded
def test_the_chunk_size_changes_no_number(files, tmp_path, batch_size):
    configurations = unique_configurations(SINGLE)[:7]
    whole = chunk(files, tmp_path, "whole", configurations, batch_size=batch_size)
    parts = [chunk(files, tmp_path, f"part{k}", configurations[k : k + 3], batch_size=batch_size) for k in range(0, 7, 3)]
    with h5py.File(whole) as h5:
        expected = {name: h5[name][:] for name in ("scores", "correct", "target_logit")}
    for k, path in zip(range(0, 7, 3), parts):
        with h5py.File(path) as h5:
            for name, value in expected.items():
                np.testing.assert_array_equal(h5[name][:], value[k : k + 3])


@pytest.mark.slow
def test_merge_and_summary(files, tmp_path):
    configurations = unique_configurations(SINGLE)
    paths = [
        chunk(files, tmp_path, "m1", configurations[:9], n_images=6, store_maps=["img_003"]),
        chunk(files, tmp_path, "m2", configurations[9:], n_images=6, store_maps=["img_003"]),
    ]
    table_path, maps_path, summary_path = tmp_path / "scores.parquet", tmp_path / "maps.h5", tmp_path / "summary.csv"
    merge_sweep(paths, SINGLE, sweep="grid", kind="single_pcoder", perturbation={"sigma": 0.0}, out_table=table_path)
    merge_maps(paths, SINGLE, maps_path)
    table = pd.read_parquet(table_path)
    assert len(table) == len(SINGLE) * 6 * 4 * 2
    assert list(table.columns) == [
        "sweep", "kind", "sigma", "pcoder", "beta", "lambda", "alpha", "image_index", "image_id",
        "timestep", "metric", "parameter", "value", "correct", "target_logit",
    ]
    assert table["image_index"].nunique() == 6 and set(table["metric"]) == {"iou"}
    # A cell's rows are its configuration's scores; the top PCoder's lambda has no effect.
    with h5py.File(paths[0]) as h5:
        expected = h5["scores"][2]
    cell = SINGLE[2]
    rows = table[(table["pcoder"] == cell.pcoder) & (table["beta"] == cell.beta) & (table["lambda"] == cell.lam)]
    np.testing.assert_array_equal(rows.sort_values(["image_index", "timestep", "parameter"])["value"], expected.ravel())
    top = table[(table["pcoder"] == 5) & (table["beta"] == 0.0)]
    by_lambda = top.groupby("lambda")["value"].apply(np.asarray)
    assert len(by_lambda) == 3 and all(np.array_equal(v, by_lambda.iloc[0]) for v in by_lambda)
    with h5py.File(maps_path) as h5:
        assert h5["cam_raw"].shape == (len(SINGLE), 1, 4, 6, 6) and h5["cam_raw"].dtype == np.float16
        assert list(h5["image_index"][:]) == [3]

    summarize_sweep(table_path, summary_path, resamples=20, seed=0, confidence=0.9)
    summary = pd.read_csv(summary_path)
    assert len(summary) == len(SINGLE) * 2 * 4
    means = table.groupby(["pcoder", "beta", "lambda", "parameter", "timestep"])["value"].mean()
    for _, row in summary.sample(10, random_state=0).iterrows():
        assert row["mean"] == pytest.approx(means[tuple(row[k] for k in ("pcoder", "beta", "lambda", "parameter", "timestep"))])
    first = summary[summary["timestep"] == 0]
    np.testing.assert_allclose(first["ratio_mean"], 1.0)


def test_store_maps_names_unknown_images(files, tmp_path):
    with pytest.raises(ValueError, match=r"image id\(s\) \['nope'\] are not among"):
        chunk(files, tmp_path, "bad", [HyperParameters((1.0,) * 5, (0.0,) * 5, (0.0,) * 5)], store_maps=["nope"])
    assert not (tmp_path / "bad.h5").exists() and not (tmp_path / "bad.json").exists()


def test_merge_refuses_chunks_that_do_not_fit_together(files, tmp_path):
    configurations = unique_configurations(SINGLE)
    six = chunk(files, tmp_path, "six", configurations[:2], n_images=6)
    eight = chunk(files, tmp_path, "eight", configurations[2:4])
    with pytest.raises(ValueError, match="eight.h5: its timesteps, scores or images differ from those of .*six.h5"):
        merge_sweep([six, eight], SINGLE[:2], sweep="grid", kind="single_pcoder", perturbation={"sigma": 0.0}, out_table=tmp_path / "t.parquet")
    with pytest.raises(ValueError, match="no chunk holds configuration"):
        merge_sweep([six], SINGLE[:4], sweep="grid", kind="single_pcoder", perturbation={"sigma": 0.0}, out_table=tmp_path / "t.parquet")
    assert not (tmp_path / "t.parquet").exists()


def test_an_image_without_its_object_stops_the_chunk_before_any_work(files, tmp_path):
    import shutil

    broken = dict(files, selection=tmp_path / "selection.h5")
    shutil.copy(files["selection"], broken["selection"])
    with h5py.File(broken["selection"], "r+") as h5:
        masks = h5["mask_ids"][:]
        masks[5][masks[5] == h5["class_id"][5]] = 0
        h5["mask_ids"][...] = masks
    with pytest.raises(ValueError, match=r"selection\.h5: images \['img_005'\] have no pixel of their class"):
        chunk(broken, tmp_path, "objectless", [HyperParameters((1.0,) * 5, (0.0,) * 5, (0.0,) * 5)])
    assert not (tmp_path / "objectless.h5").exists()


@pytest.mark.slow
def test_a_bf16_chunk_records_its_precision_and_stays_close_to_fp32(files, tmp_path):
    configurations = unique_configurations(SHARED)[:2]
    runs = {}
    for precision in ("fp32", "bf16"):
        with h5py.File(chunk(files, tmp_path, precision, configurations, precision=precision)) as h5:
            assert json.loads(h5.attrs["precision"]) == precision
            runs[precision] = h5["scores"][:], h5["target_logit"][:]
    assert not np.array_equal(runs["fp32"][1], runs["bf16"][1])
    np.testing.assert_allclose(runs["bf16"][1], runs["fp32"][1], rtol=0.05, atol=0.05)
    # A mean IoU over these 8 images moves by less than one image's worth of pixels would.
    assert np.nanmax(np.abs(np.nanmean(runs["bf16"][0], axis=1) - np.nanmean(runs["fp32"][0], axis=1))) < 0.05
