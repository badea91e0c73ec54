"""Validation of the workflow configuration, before any job runs.

JSON Schema (schemas/config.schema.yaml) checks structure, types and ranges; the checks here are the
ones a schema cannot express. Every message names the key at fault.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, Mapping

import jsonschema
import yaml

from pcgc.models import PCODERS


class ConfigError(ValueError):
    """An invalid configuration; the message names the key."""


def load_schema() -> dict:
    return yaml.safe_load(resources.files("pcgc").joinpath("schemas/config.schema.yaml").read_text())


def _key(path: Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<top level>"


def _schema_errors(config: Mapping) -> list[str]:
    validator = jsonschema.Draft202012Validator(load_schema())
    messages = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path))):
        if error.validator == "required":
            missing = [k for k in error.validator_value if k not in error.instance]
            for key in missing:
                messages.append(f"{_key(list(error.absolute_path) + [key])}: missing (required key)")
        elif error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            for key in extra:
                messages.append(f"{_key(list(error.absolute_path) + [key])}: unknown key")
        else:
            messages.append(f"{_key(error.absolute_path)}: {error.message}")
    return messages


def _semantic_errors(config: Mapping) -> list[str]:
    messages = []
    count = len(PCODERS[config["model"]["spec"]])
    for name, hps in config["hyperparameters"].items():
        for coefficient in ("beta", "lambda", "alpha"):
            if len(hps[coefficient]) != count:
                messages.append(
                    f"hyperparameters.{name}.{coefficient}: {len(hps[coefficient])} values, but model "
                    f"{config['model']['spec']} has {count} PCoders"
                )
        for n, (beta, lam) in enumerate(zip(hps["beta"], hps["lambda"])):
            if beta + lam > 1 + 1e-9:
                messages.append(
                    f"hyperparameters.{name}.lambda[{n}]: beta + lambda = {beta} + {lam} > 1 "
                    f"(PCoder {n + 1} would get a negative memory weight)"
                )
    if config["world"] == "demo" and config["model"]["spec"] != "mini":
        messages.append(f"model.spec: the demo world trains the `mini` network, not {config['model']['spec']!r}")
    if config["world"] == "imagenet_s" and config["model"]["spec"] != "pvgg16":
        messages.append(f"model.spec: ImageNet-S runs the pretrained `pvgg16`, not {config['model']['spec']!r}")
    for role in ("backbone", "feedback_archive"):
        source = config["weights"][role]
        if (source["url"] is None) == (source["path"] is None):
            messages.append(f"weights.{role}: give exactly one of url and path (got url={source['url']!r}, path={source['path']!r})")
    if config["selection"]["crop"] > config["selection"]["resize"]:
        messages.append(
            f"selection.crop: {config['selection']['crop']} is larger than selection.resize "
            f"{config['selection']['resize']}; the centre crop must fit in the resized image"
        )
    fig2 = config["figures"]["fig2"]
    for n, name in enumerate(fig2["hyperparameter_sets"]):
        if name not in config["hyperparameters"]:
            messages.append(f"figures.fig2.hyperparameter_sets[{n}]: {name!r} is not a set in `hyperparameters`")
    if fig2["sigma"] not in config["noise"]["sigmas"]:
        messages.append(f"figures.fig2.sigma: {fig2['sigma']} is not one of noise.sigmas {config['noise']['sigmas']}")
    if fig2["threshold"] not in config["iou"]["thresholds"]:
        messages.append(
            f"figures.fig2.threshold: {fig2['threshold']} is not one of iou.thresholds {config['iou']['thresholds']}"
        )
    if config["world"] == "demo" and config["selection"]["n_images"] > (
        config["demo"]["num_classes"] * config["demo"]["val_per_class"]
    ):
        messages.append(
            f"selection.n_images: {config['selection']['n_images']} images asked for, but the demo world has "
            f"only demo.num_classes x demo.val_per_class = "
            f"{config['demo']['num_classes'] * config['demo']['val_per_class']} validation images"
        )
    return messages


def validate_config(config: Mapping) -> dict:
    """Return the configuration as a plain dict, or raise ConfigError listing every problem."""
    config = dict(config)
    messages = _schema_errors(config)
    if not messages:
        messages = _semantic_errors(config)
    if messages:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(messages))
    return config


def sigma_label(sigma: float) -> str:
    """The wildcard text of a noise level in file names: 0.0 -> '0', 0.25 -> '0.25'."""
    return f"{float(sigma):g}"


__all__ = ["ConfigError", "validate_config", "sigma_label"]
