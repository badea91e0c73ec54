"""HyperParameters validation: every problem is reported with the key at fault."""

from __future__ import annotations

import pytest
import yaml

from pcgc.cli import main as cli
from pcgc.spec.config import ConfigError, mechanism_corruptions, sigma_label, validate_config
from tests.workflow_helpers import REPO, default_config, demo_mechanism, write_config


def test_the_shipped_configurations_are_valid():
    validate_config(default_config())


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["hyperparameters"]["hps_1"]["beta"].__setitem__(0, 0.8), r"hyperparameters\.hps_1\.lambda\[0\]: beta \+ lambda = 0\.8 \+ 0\.3 > 1"),
        (lambda c: c["hyperparameters"]["hps_0"]["alpha"].pop(), r"hyperparameters\.hps_0\.alpha: 4 values, but model mini has 5 PCoders"),
        (lambda c: c["hyperparameters"]["hps_0"]["beta"].__setitem__(2, 1.5), r"hyperparameters\.hps_0\.beta\[2\]: 1\.5 is greater than the maximum of 1"),
        (lambda c: c["noise"].__setitem__("sigmas", [-0.1]), r"noise\.sigmas\[0\]: -0\.1 is less than the minimum of 0"),
        (lambda c: c["model"].__setitem__("spec", "vgg19"), r"model\.spec: 'vgg19' is not one of the networks mini, pefficientnet_b0, pvgg16"),
        (lambda c: c["model"].__setitem__("spec", "pvgg16"), r"model\.spec: the demo world trains the `mini` network"),
        (lambda c: c["dynamics"].pop("timesteps"), r"dynamics\.timesteps: missing \(required key\)"),
        (lambda c: c["scores"].__setitem__("thershold", 0.5), r"scores\.thershold: unknown key"),
        (lambda c: c["scores"]["metrics"].append("dice"), r"scores\.metrics\[6\]: 'dice' is not one of"),
        (lambda c: c["scores"].__setitem__("sweep_metrics", ["pxap"]), r"scores\.sweep_metrics\[0\]: 'pxap' is not one of"),
        (lambda c: c["scores"].__setitem__("pointing_tolerances", [-1]), r"scores\.pointing_tolerances\[0\]: -1 is less than the minimum of 0"),
        (lambda c: c["scores"].__setitem__("sweep_metrics", ["auroc"]), r"figures\.fig3: draws the sweeps' IoU, but scores\.sweep_metrics \['auroc'\] lacks iou"),
        (lambda c: c["figures"]["fig2"].update(metric="auroc"), r"figures\.fig2\.parameter: metric auroc takes no parameter; set it to null, not 0\.5"),
        (lambda c: c["figures"]["fig2"].update(metric="auroc", parameter=None), None),
        (lambda c: c["figures"]["fig2"].update(metric="pxap", parameter=None), r"figures\.fig2\.metric: pxap is one number per dataset"),
        (lambda c: c["figures"]["fig2"].update(metric="pointing_game", parameter=3), r"figures\.fig2\.parameter: 3 is not one of scores\.pointing_tolerances \[0\] \(metric pointing_game\)"),
        (lambda c: c["scores"].__setitem__("metrics", ["auroc"]), r"figures\.fig2\.metric: 'iou' is not one of scores\.metrics \['auroc'\]"),
        (lambda c: c["figures"]["fig2"].__setitem__("alpha", 1.0), r"figures\.fig2\.alpha: 1\.0 is greater than or equal to the maximum of 1"),
        (lambda c: c["cam"].__setitem__("methods", ["gradcam", "scorecam"]), r"cam\.methods\[1\]: 'scorecam' is not one of"),
        (lambda c: c["cam"].__setitem__("layers", ["top", "pcoder6"]), r"cam\.layers\[1\]: layer 'pcoder6': the network has 5 PCoders \(pcoder1 \.\. pcoder5\) \(model mini\)"),
        (lambda c: c["cam"].__setitem__("layers", ["pcoder5", "top"]), r"cam\.layers\[1\]: 'top' is the layer 'pcoder5' names already"),
        (lambda c: c["cam"].__setitem__("methods", ["eigencam"]), r"figures\.diagnostics: draws the IoU of Grad-CAM on the top layer"),
        (lambda c: c["figures"]["fig2"].__setitem__("method", "hirescam") or c["cam"].__setitem__("methods", ["gradcam"]), r"figures\.fig2\.method: 'hirescam' is not one of cam\.methods \['gradcam'\]"),
        (lambda c: c["figures"]["fig2"].__setitem__("layer", "pcoder2"), r"figures\.fig2\.layer: 'pcoder2' is not one of the layers cam\.layers stores \['pcoder4', 'pcoder5'\] \(top is pcoder5\)"),
        (lambda c: c["figures"]["fig2"].__setitem__("layer", "pcoder4"), None),
        (lambda c: c["figures"]["diagnostics"].__setitem__("threshold", 0.3), r"figures\.diagnostics\.threshold: draws the IoU at 0\.3, which needs iou in scores\.metrics"),
        (lambda c: c["figures"]["fig2"]["hyperparameter_sets"].append("hps_9"), r"figures\.fig2\.hyperparameter_sets\[2\]: 'hps_9' is not a set"),
        (lambda c: c["figures"]["fig2"].__setitem__("sigma", 0.5), r"figures\.fig2\.sigma: 0\.5 is not one of noise\.sigmas"),
        (lambda c: c["figures"]["fig2"].__setitem__("parameter", 0.3), r"figures\.fig2\.parameter: 0\.3 is not one of scores\.thresholds \[0\.5\] \(metric iou\)"),
        (lambda c: c["selection"].__setitem__("n_images", 10_000), r"selection\.n_images: 10000 images asked for, but the demo world has only"),
        (lambda c: c["selection"].__setitem__("crop", 128), r"selection\.crop: 128 is larger than selection\.resize"),
        (lambda c: c["weights"].__setitem__("backbone", {"url": "https://h/vgg16-397923af.pth", "path": "/tmp/vgg16.pth"}), r"weights\.backbone: give exactly one of url and path, or null"),
        (lambda c: c["weights"].__setitem__("feedback_archive", {"sha256": "a" * 64}), r"weights\.feedback_archive: give exactly one of url and path, or null .*got url=None, path=None"),
        (lambda c: c["weights"].__setitem__("backbone", {"path": "/data/vgg16.pth", "sha256": "397923af"}), r"weights\.backbone\.sha256: '397923af' does not match"),
        (lambda c: c["weights"].__setitem__("backbone", {"path": "/data/vgg16.pth", "md5": "x"}), r"weights\.backbone\.md5: unknown key"),
        (lambda c: c["weights"].__setitem__("backbone", "https://h/vgg16-397923af.pth"), r"weights\.backbone: 'https://h/vgg16-397923af.pth' is not of type 'object', 'null'"),
        (lambda c: c["weights"].__setitem__("backbone", {"url": "ftp://h/vgg16-397923af.pth"}), r"weights\.backbone\.url: 'ftp://h/vgg16-397923af.pth' does not match"),
        (lambda c: c["weights"].__setitem__("backbone", {"path": "/data/vgg16.pth", "sha256": "a" * 64}), None),
        (lambda c: c.update(world="imagenet_s"), r"model\.spec: ImageNet-S runs a network with published weights \(pefficientnet_b0, pvgg16\), not 'mini'"),
        (lambda c: c["extraction"].__setitem__("device", "gpu"), r"extraction\.device: 'gpu' does not match"),
        (lambda c: c["extraction"].__setitem__("chunk_size", 0), r"extraction\.chunk_size: 0 is less than the minimum of 1"),
        (lambda c: c["extraction"].__setitem__("memory_format", "nhwc"), r"extraction\.memory_format: 'nhwc' is not one of \['contiguous', 'channels_last'\]"),
        (lambda c: c["extraction"].__setitem__("compile", "off"), r"extraction\.compile: 'off' is not one of \['eager', 'inductor', 'inductor-cudagraphs'\]"),
        (lambda c: c["sweeps"]["fig3"].__setitem__("pcoders", [1, 6]), r"sweeps\.fig3\.pcoders: PCoder 6 does not exist; model mini has 5"),
        (lambda c: c["sweeps"]["fig4"].__setitem__("pcoders", [1]), r"sweeps\.fig4\.pcoders: a shared sweep has no pcoders key"),
        (lambda c: c["sweeps"]["fig3"].pop("pcoders"), r"sweeps\.fig3\.pcoders: missing \(required key\)"),
        (lambda c: c["sweeps"]["fig3"].__setitem__("beta", {"start": 0.5, "stop": 0.2, "step": 0.1}), r"sweeps\.fig3\.beta: grid .* has no values"),
        (lambda c: c["sweeps"]["fig3"].__setitem__("beta", [0.5, 0.25]), r"sweeps\.fig3\.beta: grid values must be increasing"),
        (lambda c: c["sweeps"]["fig3"].__setitem__("lambda", {"start": 0.5, "stop": 1.0, "step": 0.5}), None),
        (lambda c: c["sweeps"]["fig3"].update(beta=[0.75, 1.0], **{"lambda": [0.5]}), r"sweeps\.fig3: no cell of the grid has beta \+ lambda <= 1"),
        (lambda c: c["sweeps"]["fig4"].__setitem__("n_images", 301), r"sweeps\.fig4\.n_images: 301 images asked for, but selection\.n_images is 300"),
        (lambda c: c["sweeps"]["fig4"].__setitem__("store_maps", "some"), r"sweeps\.fig4\.store_maps: 'some' is not"),
        (lambda c: c["sweeps"]["fig4"].__setitem__("sigmas", [0.1, 0.1000001]), r"noise levels \[0\.1, 0\.1000001\] would share the file label sigma0\.1"),
        (lambda c: c["figures"]["fig3"].__setitem__("sweep", "fig9"), r"figures\.fig3\.sweep: 'fig9' is not a sweep"),
        (lambda c: c["figures"]["fig3"].__setitem__("sweep", "fig4"), r"figures\.fig3\.sweep: 'fig4' is a shared sweep; fig3 draws a single_pcoder one"),
        (lambda c: c["figures"]["fig3"].__setitem__("sigma", 0.3), r"figures\.fig3\.sigma: 0\.3 is not one of sweeps\.fig3\.sigmas"),
        (lambda c: c["figures"]["fig4"].__setitem__("threshold", 0.7), r"figures\.fig4\.threshold: 0\.7 is not one of scores\.thresholds"),
        (lambda c: c["figures"]["fig4"].__setitem__("timesteps", [1, 11]), r"figures\.fig4\.timesteps: timesteps \[11\] lie beyond dynamics\.timesteps = 10"),
        (lambda c: c["figures"]["fig1"].__setitem__("lambda", 0.7), r"figures\.fig1\.lambda: beta \+ lambda = 0\.4 \+ 0\.7 > 1"),
        (lambda c: c["sweeps"]["fig4"].__setitem__("beta", {"start": 0, "stop": 1}), r"sweeps\.fig4\.beta\.step: missing \(required key\)"),
        (lambda c: c["figures"]["fig1"].__setitem__("images", ["a", "a"]), r"figures\.fig1\.images: \['a', 'a'\] has non-unique elements"),
        (lambda c: c["mechanism"].__setitem__("hyperparameter_set", "hps_9"), r"mechanism\.hyperparameter_set: 'hps_9' is not a set in `hyperparameters`"),
        (lambda c: c["mechanism"].__setitem__("controls", ["no_feedback", "zero_feedback"]), r"mechanism\.controls\[1\]: 'zero_feedback' is not one of"),
        (lambda c: c["mechanism"].__setitem__("recovery", []), r"mechanism\.recovery: \[\] should be non-empty"),
        (lambda c: c["mechanism"].__setitem__("scatter_timestep", 11), r"mechanism\.scatter_timestep: 11 lies beyond dynamics\.timesteps = 10"),
        (lambda c: c["mechanism"].__setitem__("shuffle_group", 97), r"mechanism\.shuffle_group: 97 images per group, but the conditions run 96 images \(mechanism\.n_images: 96, selection\.n_images: 300\)"),
        (lambda c: c["mechanism"].__setitem__("n_images", 301), r"mechanism\.n_images: 301 images asked for, but selection\.n_images is 300"),
        (lambda c: c["mechanism"].__setitem__("n_images", 0), r"mechanism\.n_images: 0 is less than the minimum of 1"),
        (lambda c: c["mechanism"].__setitem__("shuffle_group", 1), r"mechanism\.shuffle_group: 1 is less than the minimum of 2"),
        (lambda c: c["mechanism"].update(metric="pxap", parameter=None), r"mechanism\.metric: pxap is one number per dataset"),
        (lambda c: c["mechanism"].__setitem__("parameter", 0.3), r"mechanism\.parameter: 0\.3 is not one of scores\.thresholds \[0\.5\] \(metric iou\)"),
        (lambda c: c["mechanism"].update(controls=[], sigmas=[0.0]), None),
        # The mechanism under corruptions: each family and severity checked as corruptions.families' are.
        (lambda c: c["mechanism"].__setitem__("corruptions", {"smoke": [1]}), r"mechanism\.corruptions\.smoke: unknown corruption family 'smoke'"),
        (lambda c: c["mechanism"].__setitem__("corruptions", {"contrast": [6]}), r"mechanism\.corruptions\.contrast\[0\]: 6 is greater than the maximum of 5"),
        (lambda c: c["mechanism"].__setitem__("corruptions", {"contrast": [0]}), r"mechanism\.corruptions\.contrast\[0\]: 0 is less than the minimum of 1"),
        (lambda c: c["mechanism"].__setitem__("corruptions", {"frost": [1]}) or c["corruptions"].__setitem__("frost_textures", "/nonexistent/frost"),
         r"mechanism\.corruptions\.frost: frost cannot run: the frost texture folder /nonexistent/frost lacks frost1\.png"),
        (lambda c: c["mechanism"].pop("corruptions"), r"mechanism\.corruptions: missing \(required key\)"),
        # A family that corruptions.families does not corrupt: its inputs are built for the mechanism.
        (lambda c: c["mechanism"].__setitem__("corruptions", {"fog": [1, 3], "contrast": [4]}), None),
        (lambda c: c.__setitem__("mechanism", None), None),
    ],
)
def test_invalid_values_name_their_key(edit, message):
    config = default_config()
    edit(config)
    if message is None:  # a valid edit, beside the invalid ones
        validate_config(config)
        return
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


# What the `weights` section of config.yaml and config/paper.yaml named before it deferred to the
# network's record: the sources, and so rule weights_identity's identity.json, must stay the same.
PUBLISHED = {
    "backbone": {"url": "https://download.pytorch.org/models/vgg16-397923af.pth", "path": None, "sha256": None},
    "feedback_archive": {"url": "https://www.dropbox.com/s/8lzp6wfo6n3bymk/weights_pvgg16_imagenet.zip?dl=1", "path": None, "sha256": None},
}


@pytest.mark.parametrize("configfile", ["config.yaml", "config/paper.yaml"])
def test_null_weight_sources_are_the_records(configfile):
    config = yaml.safe_load((REPO / configfile).read_text())
    assert (config["weights"]["backbone"], config["weights"]["feedback_archive"]) == (None, None)
    validated = validate_config(config)
    assert {role: validated["weights"][role] for role in PUBLISHED} == PUBLISHED
    assert config["weights"]["backbone"] is None  # the caller's configuration is left as it was
    assert validated["weights"]["directory"] == "resources/weights/pvgg16"


def test_a_given_weight_source_is_completed_not_replaced():
    config = default_config()
    config["weights"]["backbone"] = {"path": "/mirror/vgg16.pth", "sha256": "A" * 64}
    validated = validate_config(config)
    assert validated["weights"]["backbone"] == {"url": None, "path": "/mirror/vgg16.pth", "sha256": "A" * 64}
    assert validated["weights"]["feedback_archive"] == PUBLISHED["feedback_archive"]
    # As the Snakefile validates: validating a validated configuration changes nothing.
    assert validate_config(validated) == validated


def test_figures_and_sweeps_may_be_left_out():
    config = default_config()
    config["sweeps"] = {}
    config["figures"].update(fig1=None, fig3=None, fig4=None)
    validate_config(config)


def test_all_problems_are_reported_at_once():
    config = default_config()
    config["bootstrap"].pop("seed")
    config["noise"]["sigmas"] = [-1.0]
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert "bootstrap.seed: missing" in str(error.value) and "noise.sigmas[0]" in str(error.value)


def test_sigma_labels_are_stable_file_names():
    assert [sigma_label(s) for s in (0, 0.0, 0.1, 0.25, 1.0)] == ["0", "0", "0.1", "0.25", "1"]


def test_check_config_command(tmp_path, capsys):
    assert cli(["check-config", str(REPO / "config.yaml"), str(REPO / "config/paper.yaml")]) == 0
    config = default_config()
    config["dynamics"]["timesteps"] = -1
    bad = write_config(tmp_path, config)
    assert cli(["check-config", str(bad)]) == 1
    assert "dynamics.timesteps: -1 is less than the minimum of 0" in capsys.readouterr().err


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("dynamics", "timesteps", 5.0, r"dynamics\.timesteps: 5\.0 is not of type 'integer'"),
        ("dynamics", "timesteps", 1_000_000, r"dynamics\.timesteps: 1000000 is greater than the maximum of 100"),
        ("selection", "n_images", 40.0, r"selection\.n_images: 40\.0 is not of type 'integer'"),
        ("selection", "n_images", 10**6, r"selection\.n_images: 1000000 is greater than the maximum of 50000"),
        ("selection", "seed", 2**32, r"selection\.seed: 4294967296 is greater than the maximum of 4294967295"),
        ("noise", "seed", 1.5, r"noise\.seed: 1\.5 is not of type 'integer'"),
        ("bootstrap", "resamples", 1000.0, r"bootstrap\.resamples: 1000\.0 is not of type 'integer'"),
        ("extraction", "batch_size", 32.0, r"extraction\.batch_size: 32\.0 is not of type 'integer'"),
        ("extraction", "chunk_size", 10**6, r"extraction\.chunk_size: 1000000 is greater than the maximum of 100000"),
        ("weights", "retries", 3.0, r"weights\.retries: 3\.0 is not of type 'integer'"),
        ("weights", "retries", 1000, r"weights\.retries: 1000 is greater than the maximum of 20"),
        ("demo", "train_per_class", 300.0, r"demo\.train_per_class: 300\.0 is not of type 'integer'"),
        ("dynamics", "timesteps", True, r"dynamics\.timesteps: True is not of type 'integer'"),
    ],
)
def test_integers_are_integers_within_bounds(section, key, value, message):
    config = default_config()
    config[section][key] = value
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


def test_nested_integers_are_integers_too():
    config = default_config()
    config["demo"]["training"]["epochs"] = 10.0
    config["sweeps"]["fig4"]["n_images"] = 64.0
    config["figures"]["fig3"]["timesteps"] = [1.0, 2]
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    text = str(error.value)
    assert "demo.training.epochs: 10.0 is not of type 'integer'" in text
    assert "sweeps.fig4.n_images: 64.0 is not of type 'integer'" in text
    assert "figures.fig3.timesteps[0]: 1.0 is not of type 'integer'" in text


def test_a_network_takes_crops_its_predictors_can_match():
    config = default_config()
    config.update(world="imagenet_s")
    config["model"]["spec"] = "pvgg16"
    config["selection"].update(resize=128, crop=120)
    with pytest.raises(ConfigError, match=r"selection\.crop: the pvgg16 network takes sizes that are multiples of 16 .*not crop=120"):
        validate_config(config)
    config["selection"]["crop"] = 112
    validate_config(config)


def test_the_mini_network_takes_96_pixel_crops():
    config = default_config()
    config["selection"].update(resize=128, crop=112)
    with pytest.raises(ConfigError, match=r"selection\.crop: the mini network takes 96 x 96 inputs, not crop=112"):
        validate_config(config)


def test_colliding_noise_labels_are_refused():
    config = default_config()
    config["noise"]["sigmas"] = [0.1, 0.1000001]
    config["figures"]["fig2"]["sigma"] = 0.1
    with pytest.raises(ConfigError, match=r"noise levels \[0\.1, 0\.1000001\] would share the file label sigma0\.1"):
        validate_config(config)


def test_each_missing_key_is_reported_once(tmp_path, capsys):
    config = default_config()
    for key in ("dynamics", "bootstrap", "scores"):
        config.pop(key)
    assert cli(["check-config", str(write_config(tmp_path, config))]) == 1
    err = capsys.readouterr().err
    for key in ("dynamics", "bootstrap", "scores"):
        assert err.count(f"{key}: missing (required key)") == 1, err


def test_the_default_run_has_the_mechanism_with_every_control_on_a_subset(capsys):
    assert demo_mechanism()["controls"] == ["no_feedback", "random_feedback", "shuffled_feedback"]
    assert demo_mechanism()["n_images"] < default_config()["selection"]["n_images"]  # its share of the 10-minute budget
    assert demo_mechanism()["corruptions"] == {}  # noise only: a corruption would add its four conditions' extractions
    assert cli(["check-config", str(REPO / "config.yaml")]) == 0


def test_the_mechanisms_corruptions_are_its_branches_in_catalogue_order():
    config = default_config()
    config["mechanism"]["corruptions"] = {"saturate": [5, 1], "contrast": [4]}
    assert mechanism_corruptions(validate_config(config)) == [("contrast", 4), ("saturate", 1), ("saturate", 5)]
    assert mechanism_corruptions(validate_config(default_config())) == []
    config["mechanism"] = None
    assert mechanism_corruptions(validate_config(config)) == []
