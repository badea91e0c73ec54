"""The mechanism's stages on small files: extract under each condition with recovery, then score,
bootstrap, mechanism_stats and fig_mechanism, as the workflow chains them (rules/mechanism.smk)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from pcgc.compute.dynamics import PCDynamics
from pcgc.compute.engine import Engine
from pcgc.data.noise import make_inputs
from pcgc.spec.controls import CONDITIONS
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.metrics import configured_scores
from pcgc.spec.sweeps import image_subset
from pcgc.stages.bootstrap import summarize
from pcgc.stages.extract import ImageSubset, extract, extract_conditions
from pcgc.stages.fig_mechanism import figure_mechanism
from pcgc.stages.mechanism_stats import mechanism_statistics
from pcgc.stages.score import score_extraction
from pcgc.storage.h5io import STRING, read_json_attr, string_array, write_json_attrs
from tests.conftest import random_mini
from tests.stage_fixtures import stage_network, write_stage_inputs

# Five extractions and the chain after them: about a minute of CPU.
pytestmark = pytest.mark.slow

HPS = HyperParameters((0.2, 0.4, 0.4, 0.5, 0.6), (0.3, 0.2, 0.2, 0.1, 0.0), (0.05, 0.01, 0.02, 0.01, 0.01))
SIGMA = 0.8
COUNT = 10
TIMESTEPS = 3
CAM = {"methods": ["gradcam"], "layers": ["top"]}
SCORES = {"metrics": ["iou", "auroc"], "thresholds": [0.5], "pointing_tolerances": [0]}


def write_noisy(files: dict, folder: Path, sigma: float) -> Path:
    net = random_mini(6, 5)
    with h5py.File(files["selection"]) as selection:
        images, image_id = selection["images"][:], list(selection["image_id"].asstr()[:])
    path = folder / f"inputs_sigma{sigma}.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("inputs", data=make_inputs(images, image_id, sigma=sigma, space="normalized", clip=False, seed=0, mean=net.mean, std=net.std))
        h5.create_dataset("image_id", data=string_array(image_id), dtype=STRING)
        write_json_attrs(h5, {"noise": {"sigma": sigma}, "geometry": {"crop": net.input_size}})
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mechanism")
    files = write_stage_inputs(folder, random_mini(6, 5), count=COUNT)
    return {**files, "noisy": write_noisy(files, folder, SIGMA), "folder": folder}


def h5_contents(path: Path) -> dict:
    """Every dataset's values and every attribute of an HDF5 file, by name."""
    out = {}
    with h5py.File(path) as h5:
        h5.visititems(lambda name, node: out.__setitem__(name, node[()]) if isinstance(node, h5py.Dataset) else None)
        out.update({f"@{key}": value for key, value in h5.attrs.items()})
    return out


def run_condition(files, condition: str, batch_size: int, out: Path, recovery=("same_t", "clean_t0")) -> Path:
    network = stage_network({**files, "inputs": files["noisy"]})
    extract(
        network, hps_name=f"hps_0@{condition}", hps=HPS, timesteps=TIMESTEPS, batch_size=batch_size, out_h5=out, cams=CAM,
        condition=condition, control_seed=0, shuffle_group=4, recovery=recovery, clean_inputs_h5=files["inputs"],
    )
    return out


@pytest.fixture(scope="module")
def extractions(files):
    return {c: run_condition(files, c, 4, files["folder"] / f"extract_{c}.h5") for c in CONDITIONS}


def test_recovery_leaves_a_plain_extraction_as_it_was(files, extractions):
    plain = files["folder"] / "plain.h5"
    extract(stage_network({**files, "inputs": files["noisy"]}), hps_name="hps_0", hps=HPS, timesteps=TIMESTEPS, batch_size=4, out_h5=plain, cams=CAM)
    with h5py.File(plain) as a, h5py.File(extractions["trained"]) as b:
        for name in ("target_logit", "top1", "prediction_error", "representation_change", "cams/gradcam/pcoder5"):
            np.testing.assert_array_equal(a[name][:], b[name][:])
        assert "recovery" not in a and "condition" not in a.attrs
        assert sorted(b["recovery"]) == ["clean_t0", "same_t"] and b["recovery/same_t"].shape == (COUNT, TIMESTEPS + 1, 5)
        assert read_json_attr(b, "condition", "b") == "trained"
        d = b["recovery/same_t"][:]
        assert (d[:, 0] > 0).all() and np.isfinite(d).all()
        np.testing.assert_array_equal(b["recovery/clean_t0"][:, 0], d[:, 0])  # at t = 0 both references are the clean t = 0


def test_each_condition_records_what_it_ran(extractions):
    with h5py.File(extractions["no_feedback"]) as h5:
        assert read_json_attr(h5, "hyperparameters", "h5") == {"beta": list(HPS.beta), "lambda": [0.0] * 5, "alpha": [0.0] * 5}
        assert read_json_attr(h5, "configured_hyperparameters", "h5") == HPS.as_dict()
    with h5py.File(extractions["trained"]) as trained:
        for condition in ("random_feedback", "shuffled_feedback", "no_feedback"):
            with h5py.File(extractions[condition]) as h5:
                assert read_json_attr(h5, "condition", "h5") == condition
                # t = 0 is the backbone's: shared; later the maps differ from the real dynamics'.
                np.testing.assert_array_equal(h5["cams/gradcam/pcoder5"][:, 0], trained["cams/gradcam/pcoder5"][:, 0])
                assert not np.allclose(h5["cams/gradcam/pcoder5"][:, -1], trained["cams/gradcam/pcoder5"][:, -1])


def run_conditions(files, folder: Path, batch_size: int = 4) -> dict[str, Path]:
    outputs = {c: folder / f"joint_{c}.h5" for c in CONDITIONS}
    extract_conditions(
        stage_network({**files, "inputs": files["noisy"]}), hps_name="hps_0", hps=HPS, outputs=outputs, timesteps=TIMESTEPS,
        batch_size=batch_size, cams=CAM, control_seed=0, shuffle_group=4, recovery=("same_t", "clean_t0"),
        clean_inputs_h5=files["inputs"],
    )
    return outputs


def counting(monkeypatch, cls, name: str, fail_at: int | None = None) -> list:
    """Count the calls of cls.name (and raise at call `fail_at`, 1-based)."""
    calls, original = [], getattr(cls, name)

    def counted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == fail_at:
            raise RuntimeError("killed")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, counted)
    return calls


def test_one_job_of_every_condition_shares_t0_and_equals_the_separate_jobs(files, extractions, tmp_path, monkeypatch):
    feedforward = counting(monkeypatch, PCDynamics, "feedforward")
    outputs = run_conditions(files, tmp_path)
    # Three image batches (4, 4, 2 images), each: one feedforward pass of the noisy images and one
    # of the clean ones, for all four conditions (separately: one of each per condition).
    assert len(feedforward) == 3 * 2
    for condition, path in outputs.items():
        joint, alone = h5_contents(path), h5_contents(extractions[condition])
        assert sorted(joint) == sorted(alone), condition
        for name, value in alone.items():  # every dataset and attribute, to the bit
            np.testing.assert_array_equal(joint[name], value, err_msg=f"{condition}: {name}")
        assert not path.with_name(path.name + ".batches").exists()


def test_a_killed_job_of_every_condition_resumes_what_each_condition_lacks(files, extractions, tmp_path, monkeypatch):
    # Killed in the second image batch: the first is kept for every condition.
    with monkeypatch.context() as patch:
        counting(patch, Engine, "run", fail_at=6)
        with pytest.raises(RuntimeError, match="killed"):
            run_conditions(files, tmp_path)
    kept = {c: sorted(p.name for p in (tmp_path / f"joint_{c}.h5.batches").glob("*.npz")) for c in CONDITIONS}
    assert kept == {c: ["images00000000-00000004.npz"] for c in CONDITIONS}
    assert not any(tmp_path.glob("joint_*.h5"))  # no output looks complete
    # One condition lost its batch: the rerun computes it alone in the first batch, with a t = 0
    # its own (random) network shares, then every condition in the two others.
    (tmp_path / "joint_random_feedback.h5.batches/images00000000-00000004.npz").unlink()
    runs = counting(monkeypatch, Engine, "run")
    outputs = run_conditions(files, tmp_path)
    assert len(runs) == 1 + 2 * len(CONDITIONS)
    for condition, path in outputs.items():
        joint, alone = h5_contents(path), h5_contents(extractions[condition])
        for name, value in alone.items():
            np.testing.assert_array_equal(joint[name], value, err_msg=f"{condition}: {name}")


def test_the_shuffled_control_does_not_depend_on_the_batch_size(files, extractions):
    other = run_condition(files, "shuffled_feedback", 8, files["folder"] / "shuffled_8.h5")
    with h5py.File(other) as a, h5py.File(extractions["shuffled_feedback"]) as b:
        # batches of 8 images are whole groups of 4 (0-3, 4-9 with the last two joined): another
        # batch shape, the same permutation
        for name in ("target_logit", "cams/gradcam/pcoder5", "recovery/same_t"):
            np.testing.assert_allclose(a[name][:], b[name][:], rtol=1e-4, atol=1e-5)


def test_a_subset_of_images_gives_their_rows_of_the_whole_run(files, extractions, tmp_path):
    subset = ImageSubset(n_images=6, seed=1)
    rows = image_subset(COUNT, 6, 1)
    path = tmp_path / "subset.h5"
    network = stage_network({**files, "inputs": files["noisy"]})
    extract(
        network, hps_name="hps_0@trained", hps=HPS, timesteps=TIMESTEPS, batch_size=4, out_h5=path, cams=CAM,
        recovery=("same_t",), clean_inputs_h5=files["inputs"], images=subset,
    )
    with h5py.File(path) as part, h5py.File(extractions["trained"]) as whole:
        assert read_json_attr(part, "images", "part") == {"n_images": 6, "seed": 1} and "images" not in whole.attrs
        np.testing.assert_array_equal(part["image_id"].asstr()[:], whole["image_id"].asstr()[:][rows])
        for name in ("cam_target", "target_logit", "top1", "cams/gradcam/pcoder5", "recovery/same_t"):
            # batches of other images, the same numbers (the engine is batch-invariant up to rounding)
            np.testing.assert_allclose(part[name][:], whole[name][:][rows], rtol=1e-5, atol=1e-6)
    # Scoring finds each image's mask by its id, in selection order.
    scores = configured_scores(SCORES)
    score_extraction(path, files["selection"], scores, tmp_path / "part.parquet", hyperparameter_set="a", perturbation={"sigma": SIGMA})
    score_extraction(extractions["trained"], files["selection"], scores, tmp_path / "whole.parquet", hyperparameter_set="a", perturbation={"sigma": SIGMA})
    part, whole = pd.read_parquet(tmp_path / "part.parquet"), pd.read_parquet(tmp_path / "whole.parquet")
    ids = set(part["image_id"].dropna())
    assert len(ids) == 6
    whole = whole[whole["image_id"].isin(ids)].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, whole, rtol=1e-5, atol=1e-6)


def test_bad_condition_settings_stop_before_any_work(files, tmp_path):
    network = stage_network({**files, "inputs": files["noisy"]})
    common = dict(hps_name="x", hps=HPS, timesteps=1, batch_size=4, cams=CAM)
    with pytest.raises(ValueError, match="needs the clean inputs"):
        extract(network, out_h5=tmp_path / "a.h5", recovery=("same_t",), **common)
    with pytest.raises(ValueError, match="shuffle_group"):
        extract(network, out_h5=tmp_path / "b.h5", condition="shuffled_feedback", **common)
    with pytest.raises(ValueError, match="unknown condition"):
        extract(network, out_h5=tmp_path / "c.h5", condition="no_predictions", **common)
    with pytest.raises(ValueError, match="must have sigma 0"):
        extract(network, out_h5=tmp_path / "d.h5", recovery=("same_t",), clean_inputs_h5=files["noisy"], **common)
    assert not any(tmp_path.iterdir())


def test_the_statistics_and_figures(files, extractions, tmp_path):
    scores, summaries = {}, {}
    for condition, path in extractions.items():
        scores[condition] = tmp_path / f"scores_{condition}.parquet"
        score_extraction(path, files["selection"], configured_scores(SCORES), scores[condition], hyperparameter_set=f"hps_0@{condition}", perturbation={"sigma": SIGMA})
        summaries[condition] = tmp_path / f"bootstrap_{condition}.csv"
        summarize(scores[condition], summaries[condition], resamples=50, seed=0, confidence=0.9, hyperparameter_set=f"hps_0@{condition}", perturbation={"sigma": SIGMA})
    stats = {name: tmp_path / f"{name}.csv" for name in ("recovery", "controls", "link", "per_image")}
    mechanism_statistics(extractions, scores, stats, metric="iou", parameter=0.5, resamples=50, seed=0, confidence=0.9, perturbation={"sigma": SIGMA})
    recovery = pd.read_csv(stats["recovery"])
    assert set(recovery["condition"]) == set(CONDITIONS) and set(recovery["reference"]) == {"same_t", "clean_t0"}
    with h5py.File(extractions["trained"]) as h5:
        d = h5["recovery/same_t"][:]
    rows = recovery[(recovery["condition"] == "trained") & (recovery["reference"] == "same_t") & (recovery["pcoder"] == "pcoder5")]
    np.testing.assert_allclose(rows.sort_values("timestep")["mean"], d[:, :, 4].astype(np.float64).mean(0))
    controls = pd.read_csv(stats["controls"])
    assert set(controls["condition"]) == set(CONDITIONS) - {"trained"}
    trained_iou = pd.read_parquet(scores["trained"]).query("metric == 'iou'").pivot(index="image_index", columns="timestep", values="value")
    no_feedback_iou = pd.read_parquet(scores["no_feedback"]).query("metric == 'iou'").pivot(index="image_index", columns="timestep", values="value")
    row = controls[(controls["condition"] == "no_feedback") & (controls["metric"] == "iou") & (controls["timestep"] == TIMESTEPS)]
    assert float(row["delta_mean"].iloc[0]) == pytest.approx(float((no_feedback_iou - trained_iou)[TIMESTEPS].mean()))
    assert (controls.loc[controls["timestep"] == 0, "delta_mean"] == 0).all()  # t = 0 is shared
    link = pd.read_csv(stats["link"])
    assert set(link["timestep"]) == set(range(1, TIMESTEPS + 1))
    # NaN only where a change is the same for every image (ranks constant: rho undefined).
    assert link["spearman"].dropna().between(-1, 1).all() and link["spearman"].notna().sum() > len(link) // 2
    per_image = pd.read_csv(stats["per_image"])
    assert len(per_image) == len(CONDITIONS) * COUNT * (TIMESTEPS + 1)
    figures = tmp_path / "figures"
    figure_mechanism(
        stats, summaries, [figures / "mechanism.png", figures / "mechanism.pdf"], [figures / "controls.png"], figures / "controls.csv",
        layer="pcoder5", metric="iou", parameter=0.5, scatter_timestep=TIMESTEPS, alpha=0.05, perturbation={"sigma": SIGMA}, error="boot_sd",
    )
    assert all((figures / name).stat().st_size > 1000 for name in ("mechanism.png", "mechanism.pdf", "controls.png"))
    assert set(pd.read_csv(figures / "controls.csv")["hyperparameter_set"]) == {f"hps_0@{c}" for c in CONDITIONS}
