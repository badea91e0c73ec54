"""`--config` overrides are typed as the config file types them, and results paths have one spelling."""

from __future__ import annotations

import os

import pytest
from snakemake.cli import parse_config

from pcgc.spec.config import ConfigError, apply_command_line, normalize_path, normalize_paths, validate_config
from tests.workflow_helpers import copy_workflow, default_config, snakemake


def overridden(*entries: str) -> dict:
    """The default configuration with `--config` entries, parsed exactly as Snakemake parses them."""
    return apply_command_line(default_config(), parse_config(list(entries)))


def test_nested_scalars_are_typed_as_in_a_config_file():
    config = overridden('dynamics={"timesteps": 20}', 'noise={"sigmas": [0.0, 0.3], "clip": true}')
    assert config["dynamics"]["timesteps"] == 20 and isinstance(config["dynamics"]["timesteps"], int)
    assert config["noise"]["sigmas"] == [0.0, 0.3] and config["noise"]["clip"] is True
    # Keys not overridden keep the config file's values.
    assert config["noise"]["seed"] == 0 and config["selection"]["n_images"] == 300
    validate_config(config)


def test_alternatives_take_the_type_the_text_reads_as():
    config = overridden(
        'sweeps={"fig3": {"n_images": 32, "store_maps": ["00000206", "12"]}, "fig4": {"n_images": "all"}}',
        'imagenet_s={"mapping": null, "root": "123"}',
        'figures={"fig1": null}',
    )
    assert config["sweeps"]["fig3"]["n_images"] == 32 and config["sweeps"]["fig4"]["n_images"] == "all"
    # Where the schema wants a string, a string that reads as a number stays a string.
    assert config["sweeps"]["fig3"]["store_maps"] == ["00000206", "12"]
    assert config["imagenet_s"]["root"] == "123"
    assert config["imagenet_s"]["mapping"] is None and config["figures"]["fig1"] is None


@pytest.mark.parametrize(
    "entry, message",
    [
        ('dynamics={"timesteps": 5.5}', r"dynamics\.timesteps: 5\.5 is not of type 'integer'"),
        ('dynamics={"timesteps": "twenty"}', r"dynamics\.timesteps: 'twenty' is not of type 'integer'"),
        ('dynamics={"timestep": 20}', r"dynamics\.timestep: unknown key"),
        ('noise={"clip": "sometimes"}', r"noise\.clip: 'sometimes' is not of type 'boolean'"),
    ],
)
def test_a_wrong_override_names_its_key(entry, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(overridden(entry))


@pytest.mark.slow
def test_overrides_through_snakemake(tmp_path):
    workdir = copy_workflow(tmp_path)
    configfile = workdir / "config.yaml"
    # Valid only if timesteps is the integer 20 (figure 4 shows t = 15, 20) and n_images the integer
    # 40 (the sweeps, the mechanism and the corruption analysis take 32 of them).
    result = snakemake(
        workdir, configfile, "--dry-run", "--config",
        'dynamics={"timesteps": 20}',
        'figures={"fig4": {"timesteps": [15, 20]}}',
        'selection={"n_images": 40}',
        'sweeps={"fig3": {"n_images": 32}, "fig4": {"n_images": 32}}',
        'mechanism={"n_images": 32}',
        'corruptions={"analysis": {"images": 32}}',
    )
    assert "extract" in result.stdout
    bad = snakemake(workdir, configfile, "--dry-run", "--config", 'dynamics={"timesteps": 2.5}', check=False)
    assert bad.returncode != 0
    assert "dynamics.timesteps: 2.5 is not of type 'integer'" in bad.stdout + bad.stderr


@pytest.mark.parametrize("spelling", ["results/demo/", "./results/demo", "results//demo", "results/x/../demo"])
def test_results_paths_have_one_spelling(tmp_path, spelling):
    assert normalize_path(spelling, tmp_path) == "results/demo"
    assert normalize_path(str(tmp_path / spelling), tmp_path) == "results/demo"


def test_paths_outside_the_working_directory_stay_absolute(tmp_path):
    outside = tmp_path.parent / "elsewhere" / "results"
    assert normalize_path(f"{outside}/", tmp_path / "work") == str(outside)
    config = default_config()
    config.update(results=f"{os.getcwd()}/results/demo/")
    config["weights"]["directory"] = "./resources/weights/pvgg16/"
    normalized = normalize_paths(config, os.getcwd())
    assert normalized["results"] == "results/demo"
    assert normalized["weights"]["directory"] == "resources/weights/pvgg16"
