"""The `corruptions` section of the configuration: every problem named by key before any job."""

from __future__ import annotations

import pytest

from pcgc.spec.config import ConfigError, corruption_branches, normalize_paths, validate_config
from tests.workflow_helpers import default_config


def with_corruptions(families: dict, **others) -> dict:
    config = default_config()
    config["corruptions"] = {"families": families, "seed": 0, "frost_textures": None} | others
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
    assert corruption_branches(validate_config(default_config())) == []


def test_the_texture_folder_has_one_spelling(tmp_path):
    config = with_corruptions({}, frost_textures=f"{tmp_path}/textures/")
    assert normalize_paths(config, tmp_path)["corruptions"]["frost_textures"] == "textures"
