"""config/paper.yaml plans the whole paper DAG against a tree shaped like ImageNet-S919."""

from __future__ import annotations

import pytest
import yaml

from pcgc.spec.config import corruption_branches, merge_config, validate_config
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.networks import NETWORKS
from tests.workflow_helpers import REPO, copy_workflow, planned_jobs, write_config


def test_paper_config_is_the_papers_experiment():
    config = validate_config(yaml.safe_load((REPO / "config/paper.yaml").read_text()))
    assert config["world"] == "imagenet_s" and config["model"]["spec"] == "pvgg16"
    assert config["selection"]["n_images"] == 2000 and config["selection"]["crop"] == 224
    assert config["dynamics"]["timesteps"] == 10
    assert config["noise"]["sigmas"] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    assert config["hyperparameters"]["hps_0"] == {
        "beta": [0.2, 0.4, 0.4, 0.5, 0.6], "lambda": [0.05, 0.1, 0.1, 0.1, 0.0], "alpha": [0.01] * 5
    }
    assert config["hyperparameters"]["hps_1"] == {
        "beta": [0.19, 0.7, 0.34, 0.7, 0.7], "lambda": [0.3, 0.3, 0.3, 0.0, 0.3], "alpha": [0.01, 0.0, 0.01, 0.01, 0.01]
    }
    assert config["bootstrap"]["resamples"] == 1000
    tenths = {"start": 0.0, "stop": 1.0, "step": 0.1}
    fig3, fig4 = config["sweeps"]["fig3"], config["sweeps"]["fig4"]
    assert fig3["kind"] == "single_pcoder" and fig3["pcoders"] == [1, 2, 3, 4, 5] and fig3["sigmas"] == [0.0]
    assert fig4["kind"] == "shared" and fig4["sigmas"] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    for sweep in (fig3, fig4):
        assert sweep["beta"] == sweep["lambda"] == tenths and sweep["n_images"] == "all"
    fig1 = config["figures"]["fig1"]
    assert (fig1["sigma"], fig1["beta"], fig1["lambda"]) == (0.6, 0.4, 0.5)


def imagenet_s_paths(config: dict, tmp_path) -> dict:
    """`config` pointed at an empty tree shaped like ImageNet-S919: a dry run needs the dataset's
    files to exist, not their contents."""
    root = tmp_path / "ImageNetS919"
    (root / "validation").mkdir(parents=True)
    (root / "validation-segmentation").mkdir()
    categories = tmp_path / "ImageNetS_categories_im919.txt"
    categories.write_text("n01440764\nn01443537")
    mapping = tmp_path / "ImageNetS_im919_mapping_validation.txt"
    mapping.write_text("")
    config["imagenet_s"].update(root=str(root), categories=str(categories), mapping=str(mapping))
    config["weights"]["directory"] = str(tmp_path / "weights")
    return config


def test_paper_dag_is_planned_in_full(tmp_path):
    workdir = copy_workflow(tmp_path / "workflow")
    config = imagenet_s_paths(yaml.safe_load((REPO / "config/paper.yaml").read_text()), tmp_path)
    jobs = planned_jobs(workdir, write_config(workdir, config, "paper.yaml"))
    # Figure 3: 5 x 66 cells, 275 configurations (the top PCoder's 66 cells are 11: it ignores
    # lambda), in chunks of 11: 25. Figure 4: 66 configurations, 6 chunks at each of 6 noise levels.
    assert jobs == paper_dag(fig3_chunks=25)


@pytest.mark.slow
def test_the_imagenet_c_overlay_runs_every_family_for_both_sets(tmp_path):
    """`--configfile config/paper.yaml config/imagenet_c.yaml`: the paper's analysis of every
    family and severity; without the overlay, no corruption (`families: null`)."""
    paper = yaml.safe_load((REPO / "config/paper.yaml").read_text())
    assert corruption_branches(validate_config(paper)) == []
    config = imagenet_s_paths(paper, tmp_path)
    merge_config(config, yaml.safe_load((REPO / "config/imagenet_c.yaml").read_text()))
    assert len(corruption_branches(validate_config(config))) == 95
    analysis = config["corruptions"]["analysis"]
    assert analysis["hyperparameter_sets"] == ["hps_0", "hps_1"] and len(analysis["cam"]["methods"]) == 6
    assert analysis["images"] == "all" and analysis["alexnet_normalization"] is True
    workdir = copy_workflow(tmp_path / "workflow")
    jobs = planned_jobs(workdir, write_config(workdir, config, "imagenet_c.yaml"))
    branches = 2 * 95
    assert jobs == {
        **paper_dag(fig3_chunks=25), "corrupted_inputs": 95, "extract": 14 + branches, "score": 14 + branches,
        "bootstrap": 14 + branches, "robustness": 2, "fig_corruptions": 2,
    }


def paper_dag(fig3_chunks: int) -> dict[str, int]:
    """The jobs of the paper's DAG from scratch: 2 sets x 7 noise levels, Figure 3's chunks, and
    Figure 4's 66 configurations in 6 chunks at each of 6 noise levels."""
    return {
        "fetch_weights": 1,
        "weights_identity": 1,
        "select_images": 1,
        "noisy_inputs": 7,
        "extract": 14,
        "score": 14,
        "bootstrap": 14,
        "fig2": 1,
        "diagnostics": 14,
        "sweep_chunk": fig3_chunks + 6 * 6,
        "sweep_merge": 7,
        "sweep_summary": 7,
        "fig3": 1,
        "fig4": 1,
        "fig1_cams": 1,
        "fig1": 1,
        "all": 1,
    }


def test_the_pefficientnet_b0_config_is_the_papers_analyses_on_eight_pcoders():
    paper = validate_config(yaml.safe_load((REPO / "config/paper.yaml").read_text()))
    config = validate_config(yaml.safe_load((REPO / "config/pefficientnet_b0.yaml").read_text()))
    assert config["model"]["spec"] == "pefficientnet_b0" and config["cam"]["layers"] == ["top", "head"]
    # Predify's two sets, under the names config.yaml's sets have (so a plain --configfile replaces them).
    record = NETWORKS["pefficientnet_b0"]
    assert HyperParameters.from_dict(config["hyperparameters"]["hps_0"]) == record.hyperparameters["predify"]
    assert HyperParameters.from_dict(config["hyperparameters"]["hps_1"]) == record.hyperparameters["predify_get_model"]
    assert sorted(config["hyperparameters"]) == sorted(yaml.safe_load((REPO / "config.yaml").read_text())["hyperparameters"])
    assert config["sweeps"]["fig3"]["pcoders"] == list(range(1, 9))
    # Everything else is the paper's analysis.
    same = ("selection", "noise", "dynamics", "bootstrap", "scores", "extraction", "resources")
    assert {key: config[key] for key in same} == {key: paper[key] for key in same}
    for sweep in ("fig3", "fig4"):
        assert {k: v for k, v in config["sweeps"][sweep].items() if k != "pcoders"} == {
            k: v for k, v in paper["sweeps"][sweep].items() if k != "pcoders"
        }


def test_the_pefficientnet_b0_dag_is_planned_from_a_plain_configfile(tmp_path):
    """`snakemake -n --configfile config/pefficientnet_b0.yaml`, merged over config.yaml as Snakemake does."""
    workdir = copy_workflow(tmp_path / "workflow")
    config = imagenet_s_paths(yaml.safe_load((REPO / "config/pefficientnet_b0.yaml").read_text()), tmp_path)
    jobs = planned_jobs(workdir, write_config(workdir, config, "pefficientnet_b0.yaml"))
    # Figure 3: 7 x 66 cells and the top PCoder's 11, 473 configurations in chunks of 11: 43.
    assert jobs == paper_dag(fig3_chunks=43)
