"""Validation of the workflow configuration, before any job runs.

JSON Schema (config.schema.yaml, beside this module) checks structure, types and ranges; the checks here are the
ones a schema cannot express. Every message names the key at fault.
"""

from __future__ import annotations

import copy
import importlib.util
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml

from pcgc.spec.corruptions import FAMILIES, CorruptionUnavailable, family_errors, frost_texture_dir
from pcgc.spec.hyperparameters import memory_weight_ok
from pcgc.spec.layers import layer_index, layer_name
from pcgc.spec.metrics import METRIC_KINDS, PARAMETER_KEYS
from pcgc.spec.networks import NETWORKS, WEIGHT_ROLES, fetched_network
from pcgc.spec.perturbations import sigma_label
from pcgc.spec.sweeps import grid_values, sweep_cells


class ConfigError(ValueError):
    """An invalid configuration; the message names the key."""


@lru_cache(maxsize=1)
def load_schema() -> Mapping:
    """The configuration's JSON schema, read once per process (every job parses the workflow, and
    the schema is most of that YAML); shared, so callers must not change it."""
    text = resources.files("pcgc.spec").joinpath("config.schema.yaml").read_text()
    # libyaml's loader, where PyYAML was built with it, reads the schema about seven times faster.
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _key(path: Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<top level>"


def _closest_alternative(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """Of the alternatives a value matches none of, the error of one whose type it has (a mapping
    given where a list or a mapping is allowed is judged as a mapping)."""
    branches: dict[Any, list[jsonschema.ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)

    def wrong_kind(errors: list[jsonschema.ValidationError]) -> bool:
        return any(e.validator in ("type", "const", "enum") and not e.relative_path for e in errors)

    def same_family(errors: list[jsonschema.ValidationError]) -> bool:
        # 64.0 where `all` or an integer is allowed: the integer branch says what is wrong.
        family = {"integer": "number"}.get(_json_type(error.instance), _json_type(error.instance))
        for e in errors:
            if e.validator == "type" and not e.relative_path:
                types = e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
                return family in {{"integer": "number"}.get(t, t) for t in types}
        return False

    candidates = (
        [errors for errors in branches.values() if not wrong_kind(errors)]
        or [errors for errors in branches.values() if same_family(errors)]
        or list(branches.values())
    )
    return max((e for errors in candidates for e in errors), key=lambda e: len(e.absolute_path))


def _is_strict_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


# JSON Schema counts 5.0 as an integer; Python's range() and torch do not, so a float where the
# schema asks for an integer would pass validation and crash a job later.
_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_strict_integer),
)


def _schema_errors(config: Mapping) -> list[str]:
    validator = _Validator(load_schema())
    messages: list[str] = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path))):
        while error.validator in ("oneOf", "anyOf") and error.context:
            error = _closest_alternative(error)
        if error.validator == "required":
            missing = [k for k in error.validator_value if k not in error.instance]
            found = [f"{_key(list(error.absolute_path) + [key])}: missing (required key)" for key in missing]
        elif error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            found = [f"{_key(list(error.absolute_path) + [key])}: unknown key" for key in extra]
        else:
            found = [f"{_key(error.absolute_path)}: {error.message}"]
        # jsonschema reports one `required` error per missing key, each listing all of them.
        messages += [message for message in found if message not in messages]
    return messages


def _semantic_errors(config: Mapping) -> list[str]:
    if config["model"]["spec"] not in NETWORKS:
        # Every other check needs the network's record.
        return [f"model.spec: {config['model']['spec']!r} is not one of the networks {', '.join(sorted(NETWORKS))} (pcgc.spec.networks)"]
    messages = []
    model = NETWORKS[config["model"]["spec"]]
    count = model.num_pcoders
    missing = [package for package in model.requires if importlib.util.find_spec(package) is None]
    if missing:
        extras = ",".join(missing)
        messages.append(f"model.spec: the {model.name} network needs {', '.join(missing)}: pip install 'pcgc[{extras}]'")
    for name, hps in config["hyperparameters"].items():
        for coefficient in ("beta", "lambda", "alpha"):
            if len(hps[coefficient]) != count:
                messages.append(
                    f"hyperparameters.{name}.{coefficient}: {len(hps[coefficient])} values, but model "
                    f"{config['model']['spec']} has {count} PCoders"
                )
        for n, (beta, lam) in enumerate(zip(hps["beta"], hps["lambda"])):
            if not memory_weight_ok(beta, lam):
                messages.append(
                    f"hyperparameters.{name}.lambda[{n}]: beta + lambda = {beta} + {lam} > 1 "
                    f"(PCoder {n + 1} would get a negative memory weight)"
                )
    if config["world"] == "demo" and config["model"]["spec"] != "mini":
        messages.append(f"model.spec: the demo world trains the `mini` network, not {config['model']['spec']!r}")
    if config["world"] == "imagenet_s" and not model.published:
        published = sorted(name for name, record in NETWORKS.items() if record.published)
        messages.append(
            f"model.spec: ImageNet-S runs a network with published weights ({', '.join(published)}), "
            f"not {config['model']['spec']!r}, whose weights are trained by the demo world"
        )
    for role in WEIGHT_ROLES:
        source = config["weights"][role]
        if source is not None and (source.get("url") is None) == (source.get("path") is None):
            messages.append(
                f"weights.{role}: give exactly one of url and path, or null for the network's published file "
                f"(got url={source.get('url')!r}, path={source.get('path')!r})"
            )
    members = (config["weights"]["feedback_archive"] or {}).get("members")
    fetched = fetched_network(config["model"]["spec"])
    if isinstance(members, list) and len(members) != fetched.num_pcoders:
        messages.append(
            f"weights.feedback_archive.members: {len(members)} names, but {fetched.name} has {fetched.num_pcoders} PCoders"
        )
    if model.fixed_input and config["selection"]["crop"] != model.input_size:
        messages.append(
            f"selection.crop: the {model.name} network takes {model.input_size} x {model.input_size} inputs, "
            f"not crop={config['selection']['crop']}"
        )
    elif config["selection"]["crop"] % model.input_multiple:
        messages.append(
            f"selection.crop: the {model.name} network takes sizes that are multiples of {model.input_multiple} "
            f"(its predictors must match the layers below), not crop={config['selection']['crop']}"
        )
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
    messages += _fig2_score_errors(config["scores"], fig2)
    messages += _mechanism_errors(config)
    messages += _sweep_errors(config)
    messages += _cam_errors(config, count)
    messages += _figure_errors(config)
    messages += _sigma_label_errors(config)
    messages += corruption_errors(config)
    if config["world"] == "demo" and config["selection"]["n_images"] > (
        config["demo"]["num_classes"] * config["demo"]["val_per_class"]
    ):
        messages.append(
            f"selection.n_images: {config['selection']['n_images']} images asked for, but the demo world has "
            f"only demo.num_classes x demo.val_per_class = "
            f"{config['demo']['num_classes'] * config['demo']['val_per_class']} validation images"
        )
    return messages


def corruption_errors(config: Mapping) -> list[str]:
    """Unknown families by name (the schema has checked the severities), frost refused with the
    reason where its textures cannot be had, in `corruptions`, the sweeps and the mechanism alike; and the
    analysis and its figure naming sets, layers and families that exist. Before any job, never
    skipped later."""
    corruptions = config["corruptions"]
    requested = {"corruptions.families": corruptions["families"] or {}}
    requested |= {f"sweeps.{name}.corruptions": sweep.get("corruptions", {}) for name, sweep in config["sweeps"].items()}
    if config["mechanism"] is not None:
        requested["mechanism.corruptions"] = config["mechanism"]["corruptions"]
    messages = []
    for key, families in requested.items():
        for name in families:
            if name not in FAMILIES:
                messages += family_errors(name, 1, f"{key}.{name}")
        if "frost" in families:
            try:
                frost_texture_dir(corruptions["frost_textures"])
            except CorruptionUnavailable as error:
                messages.append(f"{key}.frost: {error} (corruptions.frost_textures: {corruptions['frost_textures']!r})")
    # The analysis and its figure are checked where they run: where some family is corrupted (a
    # configuration may keep them, dormant, with `families: null`, as config/paper.yaml does).
    if corruptions["families"]:
        messages += _corruption_analysis_errors(config)
        messages += _corruption_figure_errors(config)
    return messages


def _corruption_analysis_errors(config: Mapping) -> list[str]:
    analysis = config["corruptions"]["analysis"]
    if analysis is None:
        return []
    key = "corruptions.analysis"
    messages = [
        f"{key}.hyperparameter_sets[{n}]: {name!r} is not a set in `hyperparameters` (has: {sorted(config['hyperparameters'])})"
        for n, name in enumerate(analysis["hyperparameter_sets"])
        if name not in config["hyperparameters"]
    ]
    count = NETWORKS[config["model"]["spec"]].num_pcoders
    messages += _layer_errors(config, analysis["cam"]["layers"], f"{key}.cam.layers", count)[0]
    images = analysis["images"]
    if images != "all" and images > config["selection"]["n_images"]:
        messages.append(f"{key}.images: {images} images asked for, but selection.n_images is {config['selection']['n_images']}")
    return messages


def _corruption_figure_errors(config: Mapping) -> list[str]:
    figure, key = config["figures"]["corruptions"], "figures.corruptions"
    if figure is None:
        return []
    families = config["corruptions"]["families"] or {}
    messages = []
    if figure["families"] != "all":
        messages += [
            f"{key}.families[{n}]: {name!r} is not a family of corruptions.families (has: {sorted(families)})"
            for n, name in enumerate(figure["families"])
            if name not in families
        ]
    analysis = config["corruptions"]["analysis"]
    if analysis is not None:
        count = NETWORKS[config["model"]["spec"]].num_pcoders
        if figure["method"] not in analysis["cam"]["methods"]:
            messages.append(
                f"{key}.method: {figure['method']!r} is not one of corruptions.analysis.cam.methods {analysis['cam']['methods']}"
            )
        stored = _layer_errors(config, analysis["cam"]["layers"], "corruptions.analysis.cam.layers", count)[1]
        if figure["layer"] not in stored:
            messages.append(
                f"{key}.layer: {figure['layer']!r} is not one of the layers corruptions.analysis.cam.layers stores {stored} (top is pcoder{count})"
            )
    messages += _fig2_score_errors(config["scores"], figure, key=key)
    messages += _timesteps_errors(f"{key}.timesteps", figure["timesteps"], config["dynamics"]["timesteps"])
    return messages


def _in_catalogue_order(families: Mapping[str, list[int]]) -> list[tuple[str, int]]:
    return [(name, severity) for name in FAMILIES if name in families for severity in sorted(families[name])]


def corruption_branches(config: Mapping) -> list[tuple[str, int]]:
    """Every (family, severity) the configuration corrupts its inputs with, in the catalogue's order."""
    return _in_catalogue_order(config["corruptions"]["families"] or {})


def mechanism_corruptions(config: Mapping) -> list[tuple[str, int]]:
    """The (family, severity) branches the mechanism runs at, beside its noise levels (catalogue
    order). Their inputs are built on demand: the family need not be in corruptions.families."""
    return [] if config["mechanism"] is None else _in_catalogue_order(config["mechanism"]["corruptions"])


def analysed_branches(config: Mapping) -> list[tuple[str, int]]:
    """The corruption branches that run through extract, score and bootstrap: every one of
    `corruption_branches` where `corruptions.analysis` is given, none otherwise."""
    return [] if config["corruptions"]["analysis"] is None else corruption_branches(config)


def _mechanism_errors(config: Mapping) -> list[str]:
    """The mechanism section names a set, a per-image score, a timestep and a group that exist."""
    mechanism = config["mechanism"]
    if mechanism is None:
        return []
    messages = []
    if mechanism["hyperparameter_set"] not in config["hyperparameters"]:
        messages.append(
            f"mechanism.hyperparameter_set: {mechanism['hyperparameter_set']!r} is not a set in `hyperparameters` "
            f"(has: {sorted(config['hyperparameters'])})"
        )
    messages += _fig2_score_errors(config["scores"], mechanism, key="mechanism")
    if mechanism["scatter_timestep"] > config["dynamics"]["timesteps"]:
        messages.append(
            f"mechanism.scatter_timestep: {mechanism['scatter_timestep']} lies beyond dynamics.timesteps = {config['dynamics']['timesteps']}"
        )
    selected = config["selection"]["n_images"]
    if mechanism["n_images"] != "all" and mechanism["n_images"] > selected:
        messages.append(f"mechanism.n_images: {mechanism['n_images']} images asked for, but selection.n_images is {selected}")
    images = selected if mechanism["n_images"] == "all" else min(mechanism["n_images"], selected)
    if "shuffled_feedback" in mechanism["controls"] and mechanism["shuffle_group"] > images:
        messages.append(
            f"mechanism.shuffle_group: {mechanism['shuffle_group']} images per group, but the conditions run "
            f"{images} images (mechanism.n_images: {mechanism['n_images']}, selection.n_images: {selected})"
        )
    return messages


def _fig2_score_errors(scores: Mapping, fig2: Mapping, key: str = "figures.fig2") -> list[str]:
    metric, parameter = fig2["metric"], fig2["parameter"]
    if metric not in scores["metrics"]:
        return [f"{key}.metric: {metric!r} is not one of scores.metrics {scores['metrics']}"]
    kind = METRIC_KINDS[metric]
    if not kind.per_image:
        return [f"{key}.metric: {metric} is one number per dataset, with no images to resample or test; choose a per-image metric"]
    if kind.parameter is not None:
        values = PARAMETER_KEYS[kind.parameter]
        if parameter not in scores[values]:
            return [f"{key}.parameter: {parameter} is not one of scores.{values} {scores[values]} (metric {metric})"]
    elif parameter is not None:
        return [f"{key}.parameter: metric {metric} takes no parameter; set it to null, not {parameter}"]
    return []


def _sweep_errors(config: Mapping) -> list[str]:
    messages = []
    pcoders = NETWORKS[config["model"]["spec"]].pcoders
    for name, sweep in config["sweeps"].items():
        key = f"sweeps.{name}"
        axes_ok = True
        for axis in ("beta", "lambda"):
            try:
                values = grid_values(sweep[axis])
            except ValueError as error:
                messages.append(f"{key}.{axis}: {error}")
                axes_ok = False
                continue
            outside = [v for v in values if not 0 <= v <= 1]
            if outside:
                messages.append(f"{key}.{axis}: values {outside} lie outside [0, 1]")
                axes_ok = False
        if sweep["kind"] == "shared" and "pcoders" in sweep:
            messages.append(f"{key}.pcoders: a shared sweep has no pcoders key (every PCoder takes the grid's values)")
        for k in sweep.get("pcoders", []):
            if k > len(pcoders):
                messages.append(f"{key}.pcoders: PCoder {k} does not exist; model {config['model']['spec']} has {len(pcoders)}")
                axes_ok = False
        if axes_ok and not sweep_cells(sweep, [p.has_feedback for p in pcoders]):
            messages.append(f"{key}: no cell of the grid has beta + lambda <= 1; nothing would run")
        if not sweep["sigmas"] and not sweep.get("corruptions"):
            messages.append(f"{key}.sigmas: [] and no corruptions: the grid would run at nothing")
        n_images = sweep["n_images"]
        if n_images != "all" and n_images > config["selection"]["n_images"]:
            messages.append(
                f"{key}.n_images: {n_images} images asked for, but selection.n_images is {config['selection']['n_images']}"
            )
    return messages


def _layer_errors(config: Mapping, names: list[str], key: str, count: int) -> tuple[list[str], list[str]]:
    """Layers that exist and are named once: the messages, and the stored layers' names (pcoder<n>
    or head) in the network's order."""
    messages = []
    layers: dict[int, str] = {}
    has_head_layer = NETWORKS[config["model"]["spec"]].head_layer is not None
    for n, name in enumerate(names):
        try:
            index = layer_index(name, count, has_head_layer=has_head_layer) + 1
        except ValueError as error:
            messages.append(f"{key}[{n}]: {error} (model {config['model']['spec']})")
            continue
        if index in layers:
            messages.append(f"{key}[{n}]: {name!r} is the layer {layers[index]!r} names already (top is pcoder{count})")
        else:
            layers[index] = name
    return messages, [layer_name(index - 1, count) for index in sorted(layers)]


def _cam_errors(config: Mapping, count: int) -> list[str]:
    """Layers that exist and are named once; what the diagnostics figure needs is computed."""
    messages, stored = _layer_errors(config, config["cam"]["layers"], "cam.layers", count)
    layers = {index + 1 for index in (layer_index(name, count, has_head_layer=True) for name in stored)}
    fig2 = config["figures"]["fig2"]
    if fig2["method"] not in config["cam"]["methods"]:
        messages.append(f"figures.fig2.method: {fig2['method']!r} is not one of cam.methods {config['cam']['methods']}")
    if fig2["layer"] not in stored:
        messages.append(f"figures.fig2.layer: {fig2['layer']!r} is not one of the layers cam.layers stores {stored} (top is pcoder{count})")
    diagnostics = config["figures"]["diagnostics"]
    if diagnostics is not None:
        if "gradcam" not in config["cam"]["methods"] or count not in layers:
            messages.append(
                f"figures.diagnostics: draws the IoU of Grad-CAM on the top layer, so cam.methods needs gradcam "
                f"and cam.layers top (or pcoder{count}); got methods {config['cam']['methods']}, layers {config['cam']['layers']}"
            )
        if "iou" not in config["scores"]["metrics"] or diagnostics["threshold"] not in config["scores"]["thresholds"]:
            messages.append(
                f"figures.diagnostics.threshold: draws the IoU at {diagnostics['threshold']}, which needs iou in scores.metrics "
                f"{config['scores']['metrics']} and the threshold in scores.thresholds {config['scores']['thresholds']}"
            )
    return messages


def _timesteps_errors(key: str, shown: Any, timesteps: int) -> list[str]:
    if shown == "all":
        return []
    beyond = [t for t in shown if t > timesteps]
    return [f"{key}: timesteps {beyond} lie beyond dynamics.timesteps = {timesteps}"] if beyond else []


def _figure_errors(config: Mapping) -> list[str]:
    messages = []
    figures, sweeps, timesteps = config["figures"], config["sweeps"], config["dynamics"]["timesteps"]
    thresholds = config["scores"]["thresholds"]
    for figure, kind in (("fig3", "single_pcoder"), ("fig4", "shared"), ("fig4_corruptions", "shared")):
        entry = figures[figure]
        if entry is None:
            continue
        key = f"figures.{figure}"
        sweep = sweeps.get(entry["sweep"])
        if sweep is None:
            messages.append(f"{key}.sweep: {entry['sweep']!r} is not a sweep in `sweeps` (has: {sorted(sweeps)})")
        elif sweep["kind"] != kind:
            messages.append(f"{key}.sweep: {entry['sweep']!r} is a {sweep['kind']} sweep; {figure} draws a {kind} one")
        elif figure == "fig4_corruptions":
            if not sweep.get("corruptions"):
                messages.append(f"{key}.sweep: sweep {entry['sweep']!r} runs at no corruption (it has no `corruptions`)")
        elif "sigma" in entry and entry["sigma"] not in sweep["sigmas"]:
            messages.append(f"{key}.sigma: {entry['sigma']} is not one of sweeps.{entry['sweep']}.sigmas {sweep['sigmas']}")
        elif not sweep["sigmas"]:
            messages.append(f"{key}.sweep: sweep {entry['sweep']!r} runs at no noise level (sigmas: []); {figure} draws noise levels")
        if entry["threshold"] not in thresholds:
            messages.append(f"{key}.threshold: {entry['threshold']} is not one of scores.thresholds {thresholds}")
        if "iou" not in config["scores"]["sweep_metrics"]:
            messages.append(f"{key}: draws the sweeps' IoU, but scores.sweep_metrics {config['scores']['sweep_metrics']} lacks iou")
        messages += _timesteps_errors(f"{key}.timesteps", entry["timesteps"], timesteps)
    fig1 = figures["fig1"]
    if fig1 is not None:
        if not memory_weight_ok(fig1["beta"], fig1["lambda"]):
            messages.append(f"figures.fig1.lambda: beta + lambda = {fig1['beta']} + {fig1['lambda']} > 1")
        if isinstance(fig1["images"], int) and fig1["images"] > config["selection"]["n_images"]:
            messages.append(
                f"figures.fig1.images: {fig1['images']} images asked for, but selection.n_images is {config['selection']['n_images']}"
            )
        messages += _timesteps_errors("figures.fig1.timesteps", fig1["timesteps"], timesteps)
    return messages


def all_sigmas(config: Mapping) -> list[float]:
    """Every noise level the configuration uses: noise.sigmas, the sweeps' and figure 1's."""
    sigmas = list(config["noise"]["sigmas"])
    for sweep in config["sweeps"].values():
        sigmas += sweep["sigmas"]
    if config["figures"]["fig1"] is not None:
        sigmas.append(config["figures"]["fig1"]["sigma"])
    if config.get("mechanism") is not None:  # its noise levels and their clean originals
        sigmas += [*config["mechanism"]["sigmas"], 0.0]
    return sorted(set(float(s) for s in sigmas))


def _sigma_label_errors(config: Mapping) -> list[str]:
    labels: dict[str, list[float]] = {}
    for sigma in all_sigmas(config):
        labels.setdefault(sigma_label(sigma), []).append(sigma)
    return [
        f"noise levels {values} would share the file label sigma{label}; use values that differ in 6 significant digits"
        for label, values in labels.items()
        if len(values) > 1
    ]


def weight_sources(config: Mapping) -> dict[str, dict[str, Any]]:
    """The `weights` section's sources, each as {url, path, sha256}: a null source is the published
    file of the network's record (pcgc.spec.networks.fetched_network), a given one is completed with
    nulls. The archive's members, where the user names them, stay beside (`members`). `config`
    must be valid."""
    record = fetched_network(config["model"]["spec"])
    sources = {}
    for role in WEIGHT_ROLES:
        given = config["weights"][role]
        if given is None:
            sources[role] = record.weights.file(role).source()
        else:
            sources[role] = {key: given.get(key) for key in ("url", "path", "sha256")}
            if given.get("members") is not None:
                sources[role]["members"] = given["members"]
    return sources


def validate_config(config: Mapping) -> dict:
    """Return the configuration as a plain dict, or raise ConfigError listing every problem.

    The returned configuration names its weight sources in full (`weight_sources`), so that the
    rules and the fetch see the files that are fetched, whether a user's copy names them or not.
    """
    config = dict(config)
    messages = _schema_errors(config)
    if not messages:
        messages = _semantic_errors(config)
    if messages:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(messages))
    config["weights"] = {**config["weights"], **weight_sources(config)}
    # `families: null` is no corruption, as {} is (null survives a merge over another file's families).
    config["corruptions"] = {**config["corruptions"], "families": config["corruptions"]["families"] or {}}
    return config


def _schema_node(schema: Mapping, node: Mapping) -> list[Mapping]:
    """The alternatives a schema node allows, with references followed and oneOf/anyOf expanded."""
    if "$ref" in node:
        target: Any = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _schema_node(schema, target)
    branches = node.get("oneOf") or node.get("anyOf")
    if branches:
        return [leaf for branch in branches for leaf in _schema_node(schema, branch)]
    return [node]


def _schema_at(schema: Mapping, path: list[str | int]) -> list[Mapping]:
    """Every schema alternative for the value at `path` ([] where the schema has no such key)."""
    nodes: list[Mapping] = [schema]
    for part in path:
        children = []
        for node in (leaf for n in nodes for leaf in _schema_node(schema, n)):
            if isinstance(part, int):
                if isinstance(node.get("items"), Mapping):
                    children.append(node["items"])
            elif part in node.get("properties", {}):
                children.append(node["properties"][part])
            elif isinstance(node.get("additionalProperties"), Mapping):
                children.append(node["additionalProperties"])
        nodes = children
    return [leaf for node in nodes for leaf in _schema_node(schema, node)]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _allows_type(alternatives: list[Mapping], value: Any) -> bool:
    kind = _json_type(value)
    for node in alternatives:
        if "const" in node:
            allowed = {_json_type(node["const"])}
        elif "enum" in node:
            allowed = {_json_type(v) for v in node["enum"]}
        elif "type" in node:
            allowed = set(node["type"]) if isinstance(node["type"], list) else {node["type"]}
        else:
            return True
        if kind in allowed or (kind == "integer" and "number" in allowed):
            return True
    return False


def _typed_override(schema: Mapping, path: list[str | int], value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _typed_override(schema, path + [key], item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed_override(schema, path + [n], item) for n, item in enumerate(value)]
    if not isinstance(value, str):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    if isinstance(parsed, str):
        return value
    alternatives = _schema_at(schema, path)
    if _allows_type(alternatives, parsed) or not _allows_type(alternatives, value):
        return parsed
    return value


def merge_config(base: dict, update: Mapping) -> None:
    """Snakemake's merge of configurations: mappings key by key, anything else replaced."""
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge_config(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def apply_command_line(config: Mapping, overrides: Mapping) -> dict:
    """`config` with the values of Snakemake's `--config` typed as the config file types them.

    Snakemake reads a nested `--config` value (`dynamics='{"timesteps": 20}'`) with YAML's base
    loader, which leaves every scalar a string. Each such string is read again as YAML, as it would
    be in a config file, except where the schema takes a string and not what the text reads as (a
    path `123`, an image id `00000206`): there the string stays.
    """
    typed = _typed_override(load_schema(), [], dict(overrides))
    config = copy.deepcopy(dict(config))
    merge_config(config, typed)
    return config


# Output folders (and the data the jobs read): Snakemake keys its records by the path as written,
# so `results/x/`, `./results/x` and an absolute path would each look like a new, empty folder.
PATH_KEYS = (
    ("results",), ("weights", "directory"), ("imagenet_s", "root"), ("imagenet_s", "categories"), ("imagenet_s", "mapping"),
    ("corruptions", "frost_textures"),
)


def normalize_path(value: str, workdir: str | os.PathLike) -> str:
    """One spelling per location: normalised, and relative when inside `workdir`."""
    path = os.path.normpath(value)
    if os.path.isabs(path):
        for base in {os.path.normpath(os.path.abspath(workdir)), os.path.realpath(workdir)}:
            try:
                relative = Path(path).relative_to(base)
            except ValueError:
                continue
            return relative.as_posix() if str(relative) != "." else "."
    return Path(path).as_posix()


def normalize_paths(config: Mapping, workdir: str | os.PathLike) -> dict:
    """`config` with every path key of PATH_KEYS in its one spelling (see normalize_path)."""
    config = copy.deepcopy(dict(config))
    for keys in PATH_KEYS:
        section = config
        for key in keys[:-1]:
            section = section[key]
        if section[keys[-1]] is not None:
            section[keys[-1]] = normalize_path(section[keys[-1]], workdir)
    return config


__all__ = ["ConfigError", "all_sigmas", "analysed_branches", "corruption_branches", "apply_command_line", "normalize_paths", "sigma_label", "validate_config", "weight_sources"]
