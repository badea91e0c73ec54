"""The `corruptions` section of the configuration: every problem named by key before any job."""

from __future__ import annotations

import pytest

from pcgc.spec.config import ConfigError, analysed_branches, corruption_branches, normalize_paths, validate_config
from tests.workflow_helpers import default_config


ANALYSIS = {"hyperparameter_sets": ["hps_0"], "cam": {"methods": ["gradcam"], "layers": ["top"]}, "images": 50, "alexnet_normalization": False}


def with_corruptions(families: dict, **others) -> dict:
    config = default_config()
    config["corruptions"] = {"families": families, "seed": 0, "frost_textures": None, "analysis": None} | others
    return config


@pytest.mark.parametrize(
    "families, others, message",
    [
        ({"smoke": [1]}, {}, r"corruptions\.families\.smoke: unknown corruption family 'smoke'; known: gaussian_noise, "),
        ({"fog": [6]}, {}, r"corruptions\.families\.fog\[0\]: 6 is greater than the maximum of 5"),
        ({"fog": [0]}, {}, r"corruptions\.families\.fog\[0\]: 0 is less than the minimum of 1"),
        ({"fog": [2.0]}, {}, r"corruptions\.families\.fog\[0\]: 2\.0 is not of type 'integer'"),
        ({"fog": [2, 2]}, {}, r"corruptions\.families\.fog: \[2, 2\] has non-unique elements"),
        ({"fog": []}, {}, r"corruptions\.families\.fog: \[\] should be non-empty"),
        ({"fog": [1]}, {"seed": -1}, r"corruptions\.seed: -1 is less than the minimum of 0"),
        ({"frost": [1]}, {"frost_textures": "/nonexistent/frost"}, r"corruptions\.families\.frost: frost cannot run: the frost texture folder /nonexistent/frost lacks frost1\.png, frost2\.png"),
    ],
)
def test_bad_corruptions_are_named(families, others, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(with_corruptions(families, **others))


def test_a_missing_section_is_named():
    config = default_config()
    del config["corruptions"]
    with pytest.raises(ConfigError, match=r"corruptions: missing \(required key\)"):
        validate_config(config)


def test_frost_without_the_package_is_refused_with_the_reason(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"corruptions\.families\.frost: frost needs the five frost photographs .* not installed"):
        validate_config(with_corruptions({"frost": [2]}))


def test_valid_corruptions_give_branches_in_catalogue_order():
    config = validate_config(with_corruptions({"saturate": [5, 1], "gaussian_noise": [3], "frost": [1]}))
    assert corruption_branches(config) == [("gaussian_noise", 3), ("frost", 1), ("saturate", 1), ("saturate", 5)]
    assert corruption_branches(validate_config(with_corruptions({}))) == []
    # No analysis: the inputs are written, no branch is analysed.
    assert analysed_branches(config) == []
    analysed = validate_config(with_corruptions({"fog": [2, 1]}, analysis=ANALYSIS))
    assert analysed_branches(analysed) == [("fog", 1), ("fog", 2)]


def test_the_texture_folder_has_one_spelling(tmp_path):
    config = with_corruptions({}, frost_textures=f"{tmp_path}/textures/")
    assert normalize_paths(config, tmp_path)["corruptions"]["frost_textures"] == "textures"


def with_analysis(edit) -> dict:
    """The default configuration with fog analysed (and its figure drawn), then `edit` applied."""
    config = with_corruptions({"fog": [1, 3]}, analysis=dict(ANALYSIS, cam=dict(ANALYSIS["cam"])))
    edit(config)
    return config


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["corruptions"]["analysis"].update(hyperparameter_sets=["hps_0", "hps_9"]),
         r"corruptions\.analysis\.hyperparameter_sets\[1\]: 'hps_9' is not a set in `hyperparameters` \(has: \['hps_0', 'hps_1'\]\)"),
        (lambda c: c["corruptions"]["analysis"]["cam"].update(layers=["pcoder7"]),
         r"corruptions\.analysis\.cam\.layers\[0\]: layer 'pcoder7': the network has 5 PCoders"),
        (lambda c: c["corruptions"]["analysis"]["cam"].update(methods=["gradcam", "smoothgrad"]),
         r"corruptions\.analysis\.cam\.methods\[1\]: 'smoothgrad' is not one of"),
        (lambda c: c["corruptions"]["analysis"].update(images=301),
         r"corruptions\.analysis\.images: 301 images asked for, but selection\.n_images is 300"),
        (lambda c: c["corruptions"]["analysis"].update(images="some"),
         r"corruptions\.analysis\.images: 'all' was expected"),
        (lambda c: c["corruptions"]["analysis"].pop("alexnet_normalization"),
         r"corruptions\.analysis\.alexnet_normalization: missing \(required key\)"),
        (lambda c: c["figures"]["corruptions"].update(families=["fog", "snow"]),
         r"figures\.corruptions\.families\[1\]: 'snow' is not a family of corruptions\.families \(has: \['fog'\]\)"),
        (lambda c: c["figures"]["corruptions"].update(method="layercam"),
         r"figures\.corruptions\.method: 'layercam' is not one of corruptions\.analysis\.cam\.methods \['gradcam'\]"),
        (lambda c: c["figures"]["corruptions"].update(layer="pcoder4"),
         r"figures\.corruptions\.layer: 'pcoder4' is not one of the layers corruptions\.analysis\.cam\.layers stores \['pcoder5'\]"),
        (lambda c: c["figures"]["corruptions"].update(parameter=0.3),
         r"figures\.corruptions\.parameter: 0\.3 is not one of scores\.thresholds \[0\.5\]"),
        (lambda c: c["figures"]["corruptions"].update(timesteps=[1, 12]),
         r"figures\.corruptions\.timesteps: timesteps \[12\] lie beyond dynamics\.timesteps = 10"),
        (lambda c: c["sweeps"]["fig4"].update(corruptions={"smoke": [1]}),
         r"sweeps\.fig4\.corruptions\.smoke: unknown corruption family 'smoke'"),
        (lambda c: c["sweeps"]["fig4"].update(corruptions={"fog": [0]}),
         r"sweeps\.fig4\.corruptions\.fog\[0\]: 0 is less than the minimum of 1"),
        (lambda c: c["sweeps"]["fig4"].update(sigmas=[]),
         r"sweeps\.fig4\.sigmas: \[\] and no corruptions: the grid would run at nothing"),
        (lambda c: c["sweeps"]["fig4"].update(sigmas=[], corruptions={"fog": [2]}),
         r"figures\.fig4\.sweep: sweep 'fig4' runs at no noise level \(sigmas: \[\]\); fig4 draws noise levels"),
        (lambda c: c["figures"].update(fig4_corruptions={"sweep": "fig4", "threshold": 0.5, "timesteps": "all"}),
         r"figures\.fig4_corruptions\.sweep: sweep 'fig4' runs at no corruption"),
        (lambda c: c["figures"].update(fig4_corruptions={"sweep": "fig3", "threshold": 0.5, "timesteps": "all"}),
         r"figures\.fig4_corruptions\.sweep: 'fig3' is a single_pcoder sweep; fig4_corruptions draws a shared one"),
        (lambda c: c["figures"].pop("corruptions"), r"figures\.corruptions: missing \(required key\)"),
    ],
)
def test_the_analysis_figures_and_sweeps_are_checked_by_key(edit, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(with_analysis(edit))


def test_a_figure_of_no_analysed_branch_is_not_an_error():
    # The paper's configuration: analysis and figure set, families empty (off) or not analysed.
    validate_config(with_corruptions({}, analysis=ANALYSIS))
    validate_config(with_corruptions({"fog": [1]}))
    # Off, the analysis and its figure are dormant: checked once a family turns them on.
    dormant = with_corruptions(None, analysis=dict(ANALYSIS, hyperparameter_sets=["hps_9"], images=900))
    dormant["figures"]["corruptions"].update(families=["snow"], timesteps=[50])
    validate_config(dormant)
    dormant["corruptions"]["families"] = {"snow": [1]}
    with pytest.raises(ConfigError, match=r"hyperparameter_sets\[0\]: 'hps_9'[\s\S]*images: 900[\s\S]*timesteps \[50\]"):
        validate_config(dormant)
    # A sweep may run at corruptions alone, and Figure 4 per family draw it.
    config = with_analysis(lambda c: c["sweeps"]["fig4"].update(corruptions={"fog": [2, 4]}))
    config["figures"]["fig4_corruptions"] = {"sweep": "fig4", "threshold": 0.5, "timesteps": [1, 10]}
    validate_config(config)
