"""What reruns when, on stubbed jobs (placeholder outputs, the real rules and code fingerprints):
each case is a dry run instead of a real run."""

from __future__ import annotations

import re

import pytest

from pcgc.spec.provenance import script_modules
from tests.workflow_helpers import (
    REPO,
    copy_workflow,
    planned_jobs,
    snakemake,
    stub_jobs,
    tiny_config,
    with_mechanism,
    without_sweeps,
    write_config,
)

pytestmark = pytest.mark.slow

# The configurations here are complete: not merged over config.yaml (its sweeps would come back).
REPLACE = "--replace-workflow-config"
AFTER_THE_WEIGHTS = {"extract": 2, "score": 2, "bootstrap": 2, "fig2": 1, "diagnostics": 2, "all": 1}


def stubbed_run(workdir, config):
    copy_workflow(workdir)
    stub_jobs(workdir)
    configfile = write_config(workdir, config)
    snakemake(workdir, configfile, REPLACE)
    assert planned(workdir, configfile) == {}
    return workdir, configfile


def planned(workdir, configfile):
    return planned_jobs(workdir, configfile, REPLACE)


def edited(workdir, configfile, module, addition="\nUNUSED_CONSTANT = 1\n", look=planned):
    """The jobs planned with `addition` appended to `module` (a path under pcgc/), then undone
    (`look`: what to ask Snakemake instead of the plan)."""
    source = workdir / "pcgc" / module
    original = source.read_text()
    try:
        source.write_text(original + addition)
        return look(workdir, configfile)
    finally:
        source.write_text(original)


def planned_after_the_fetch(workdir, configfile):
    """The jobs planned once fetch_weights has run: Snakemake plans the jobs that take its files
    (as `ancient`) only then, so the plan leaves it out."""
    others = ["weights_identity", "select_images", "noisy_inputs", *AFTER_THE_WEIGHTS]
    return planned_jobs(workdir, configfile, REPLACE, "--allowed-rules", *others)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return stubbed_run(tmp_path_factory.mktemp("demo"), without_sweeps(tiny_config()))


@pytest.mark.parametrize("spelling", ["results/tiny/", "./results/tiny", "{workdir}/results/tiny"])
def test_every_spelling_of_the_results_folder_reruns_alike(demo, spelling):
    workdir, _ = demo
    config = without_sweeps(tiny_config())
    config["results"] = spelling.format(workdir=workdir)
    assert planned(workdir, write_config(workdir, config, "spelling.yaml")) == {}
    config["dynamics"]["timesteps"] = 3
    assert planned(workdir, write_config(workdir, config, "spelling.yaml")) == AFTER_THE_WEIGHTS


def test_a_rule_reruns_when_a_module_its_script_imports_changes(demo):
    # noisy_inputs' script takes each network's mean and std from pcgc.spec.networks, not from its stage module.
    assert "pcgc.spec.networks" in script_modules(REPO / "scripts/noisy_inputs.py")
    # pcgc.spec.networks reaches the selection too, through the geometry's default crop.
    assert edited(*demo, "spec/networks.py") == {
        "train_demo": 1, "select_images": 1, "noisy_inputs": 1, **AFTER_THE_WEIGHTS
    }


def test_a_network_builder_reruns_the_jobs_that_build_that_network(demo):
    # pcgc.compute.networks imports the builder its record names when it builds (importlib), which
    # the fingerprints follow: mini's builder reruns the demo's training and what runs the network.
    assert edited(*demo, "compute/networks/mini.py") == {"train_demo": 1, **AFTER_THE_WEIGHTS}
    assert edited(*demo, "compute/networks/pvgg16.py") == {}


def test_scheduler_resources_the_device_and_compilation_rerun_nothing(demo):
    workdir, _ = demo
    config = without_sweeps(tiny_config())
    config["extraction"].update(device="cpu", compile="inductor", memory_format="channels_last")
    config["resources"].update(
        cpus=1, mem_mb=500, gpu_model="a100", gflops={"cpu": 1, "cuda": 2}, runtime={"safety_factor": 10, "min_minutes": 99}
    )
    assert planned(workdir, write_config(workdir, config, "resources.yaml")) == {}


def test_a_module_no_script_imports_reruns_nothing_it_does_not_reach(demo):
    assert edited(*demo, "analysis/bootstrap.py") == {"bootstrap": 2, "fig2": 1, "all": 1}
    assert edited(*demo, "figures/heatmaps.py") == {}


@pytest.fixture(scope="module")
def imagenet_s(tmp_path_factory):
    """The ImageNet-S world with PVGG16 and fetched weights, every job stubbed."""
    workdir = tmp_path_factory.mktemp("imagenet_s")
    data = workdir / "data"
    (data / "ImageNetS919").mkdir(parents=True)
    for name in ("categories.txt", "mapping.txt"):
        (data / name).write_text("stub")
    config = without_sweeps(tiny_config())
    config["world"] = "imagenet_s"
    config["model"]["spec"] = "pvgg16"
    config["selection"].update(resize=256, crop=224)
    config["imagenet_s"].update(root="data/ImageNetS919", categories="data/categories.txt", mapping="data/mapping.txt")
    config["weights"].update(
        directory="weights/pvgg16",
        backbone={"url": "https://example.org/vgg16-397923af.pth", "path": None, "sha256": "a" * 64},
        feedback_archive={"url": "https://example.org/weights_pvgg16_imagenet.zip", "path": None, "sha256": None},
    )
    workdir, configfile = stubbed_run(workdir, config)
    return workdir, configfile, config


def test_download_settings_rerun_nothing(imagenet_s):
    workdir, _, config = imagenet_s
    config = {**config, "weights": {**config["weights"], "timeout": 5, "retries": 0}}
    assert planned(workdir, write_config(workdir, config, "download.yaml")) == {}


def test_the_same_verified_file_from_elsewhere_reruns_nothing(imagenet_s):
    workdir, _, config = imagenet_s
    backbone = {"url": None, "path": "/mirror/vgg16.pth", "sha256": "a" * 64}
    config = {**config, "weights": {**config["weights"], "backbone": backbone}}
    assert planned(workdir, write_config(workdir, config, "mirror.yaml")) == {}


@pytest.mark.parametrize(
    "role, source",
    [
        ("backbone", {"url": "https://example.org/vgg16-397923af.pth", "path": None, "sha256": "b" * 64}),
        ("feedback_archive", {"url": "https://example.org/other.zip", "path": None, "sha256": None}),
    ],
)
def test_other_weights_rerun_everything_after_them(imagenet_s, role, source):
    workdir, _, config = imagenet_s
    config = {**config, "weights": {**config["weights"], role: source}}
    assert planned(workdir, write_config(workdir, config, "other.yaml")) == {
        "fetch_weights": 1, "weights_identity": 1, **AFTER_THE_WEIGHTS
    }


def test_the_fetch_code_reruns_the_fetch_but_not_what_uses_the_weights(imagenet_s):
    workdir, configfile, _ = imagenet_s
    assert edited(workdir, configfile, "storage/fetch.py") == {"fetch_weights": 1}


def test_another_spec_reruns_nothing_of_pvgg16(imagenet_s):
    workdir, configfile, _ = imagenet_s
    assert edited(workdir, configfile, "compute/networks/mini.py") == {}


def test_the_pvgg16_builder_reruns_what_builds_pvgg16(imagenet_s):
    # The fetch builds PVGG16 to verify the files, so it reruns first; then what runs PVGG16.
    workdir, configfile, _ = imagenet_s
    assert edited(workdir, configfile, "compute/networks/pvgg16.py") == {"fetch_weights": 1}
    assert edited(workdir, configfile, "compute/networks/pvgg16.py", look=planned_after_the_fetch) == AFTER_THE_WEIGHTS
    assert edited(workdir, configfile, "compute/networks/mini.py", look=planned_after_the_fetch) == {}


# -- the mechanism (rules/mechanism.smk) ---------------------------------------------------------

# One job extracts every condition (they share t = 0); each is scored and bootstrapped on its own.
MECHANISM_BRANCH = {"extract_conditions": 1, "score": 4, "bootstrap": 4, "mechanism_stats": 1, "fig_mechanism": 1}


@pytest.fixture(scope="module")
def mechanism(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("mechanism")
    return stubbed_run(workdir, with_mechanism(without_sweeps(tiny_config())))


def mechanism_plan(workdir, edit):
    config = with_mechanism(without_sweeps(tiny_config()))
    edit(config)
    return planned(workdir, write_config(workdir, config, "mechanism.yaml"))


def test_the_mechanism_is_a_branch_of_its_own(mechanism):
    workdir, _ = mechanism
    # Off, or on: the other outputs are the same jobs with the same parameters.
    assert mechanism_plan(workdir, lambda c: c.update(mechanism=None)) == {}
    # Another noise level runs its branch (and its inputs) only.
    assert mechanism_plan(workdir, lambda c: c["mechanism"].update(sigmas=[0.3, 0.5])) == {
        "noisy_inputs": 1, **MECHANISM_BRANCH, "all": 1
    }
    # A corruption runs its branch (and its inputs, built on demand) only.
    assert mechanism_plan(workdir, lambda c: c["mechanism"].update(corruptions={"contrast": [4]})) == {
        "corrupted_inputs": 1, **MECHANISM_BRANCH, "all": 1
    }


def test_each_mechanism_setting_reruns_only_what_reads_it(mechanism):
    workdir, _ = mechanism
    # The seed, the shuffled control's groups, the references of the recovery: the conditions'
    # job, which runs them all, and what follows it.
    for setting in ({"seed": 5}, {"shuffle_group": 2}, {"recovery": ["same_t"]}):
        assert mechanism_plan(workdir, lambda c: c["mechanism"].update(setting)) == {**MECHANISM_BRANCH, "all": 1}, setting
    # Controls fewer: the tables and the figure (the other conditions' files would not change:
    # their image batches are whole shuffle groups with or without the shuffled control).
    for controls in (["no_feedback"], ["shuffled_feedback"]):
        assert mechanism_plan(workdir, lambda c: c["mechanism"].update(controls=controls)) == {
            "mechanism_stats": 1, "fig_mechanism": 1, "all": 1
        }, controls
    # The score drawn or the marks: the tables and the figure, or the figure.
    assert mechanism_plan(workdir, lambda c: c["mechanism"].update(metric="auroc", parameter=None)) == {
        "mechanism_stats": 1, "fig_mechanism": 1, "all": 1
    }
    assert mechanism_plan(workdir, lambda c: c["mechanism"].update(alpha=0.01, scatter_timestep=1)) == {"fig_mechanism": 1, "all": 1}


def test_the_mechanisms_code_reruns_its_branch(mechanism):
    # The link's analysis is read by mechanism_stats alone; the recovery by every extraction (the engine's).
    assert edited(*mechanism, "analysis/mechanism.py") == {"mechanism_stats": 1, "all": 1, "fig_mechanism": 1}
    assert edited(*mechanism, "figures/mechanism.py") == {"fig_mechanism": 1, "all": 1}


# -- the mechanism under a corruption (mechanism.corruptions) ------------------------------------

CONTRAST = "corruptions/contrast/severity4"
MECHANISM_CONDITIONS = ("trained", "no_feedback", "random_feedback", "shuffled_feedback")


def planned_job_files(workdir, configfile):
    """The dry run's jobs, each as (rule, its input files, its output files)."""
    text = snakemake(workdir, configfile, REPLACE, "--dry-run").stdout
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", text):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        if rule:
            files = {key: re.search(rf"^\s+{key}: (.*)$", block, re.M) for key in ("input", "output")}
            jobs.append((rule.group(1), *(set(m.group(1).split(", ")) if m else set() for m in files.values())))
    return jobs


def test_a_mechanism_corruption_runs_its_conditions_beside_the_clean_inputs(mechanism):
    workdir, _ = mechanism
    results = "results/tiny"
    config = with_mechanism(without_sweeps(tiny_config()))
    config["mechanism"]["corruptions"] = {"contrast": [4]}
    jobs = planned_job_files(workdir, write_config(workdir, config, "mechanism_contrast.yaml"))
    # Only the new branch: its inputs (contrast is not in corruptions.families), the four
    # conditions' extractions and what follows them; the noise branch at sigma 0.3 stays as it was.
    assert sorted(rule for rule, _, _ in jobs) == sorted(
        ["corrupted_inputs", "extract_conditions", *["score", "bootstrap"] * 4, "mechanism_stats", "fig_mechanism", "all"]
    )
    ((inputs, outputs),) = [(inputs, outputs) for rule, inputs, outputs in jobs if rule == "extract_conditions"]
    assert outputs == {f"{results}/extract/hps_0@{c}/{CONTRAST}.h5" for c in MECHANISM_CONDITIONS}
    # the perturbed inputs and, for recovery, the clean ones
    assert {f"{results}/inputs/{CONTRAST}.h5", f"{results}/inputs/sigma0.h5"} <= inputs
    figures = next(outputs for rule, _, outputs in jobs if rule == "fig_mechanism")
    assert figures == {
        f"{results}/figures/mechanism/{CONTRAST}.png", f"{results}/figures/mechanism/{CONTRAST}.pdf",
        f"{results}/figures/controls/{CONTRAST}.png", f"{results}/figures/controls/{CONTRAST}.pdf",
        f"{results}/figures/controls/{CONTRAST}.csv",
    }
    stats = next(outputs for rule, _, outputs in jobs if rule == "mechanism_stats")
    assert stats == {f"{results}/mechanism/{CONTRAST}/{name}.csv" for name in ("recovery", "controls", "link", "per_image")}
    # The noise branch's files keep their paths (the stubbed run wrote them).
    for relative in ("mechanism/sigma0.3/recovery.csv", "figures/mechanism/sigma0.3.png", "figures/controls/sigma0.3.csv"):
        assert (workdir / results / relative).is_file()


def test_a_condition_at_a_corruption_the_mechanism_does_not_list_is_refused(mechanism):
    workdir, configfile = mechanism
    result = snakemake(
        workdir, configfile, REPLACE, "--dry-run", "results/tiny/extract/hps_0@trained/corruptions/fog/severity1.h5", check=False
    )
    assert result.returncode != 0
    assert "corruptions/fog/severity1 is not a perturbation of the mechanism" in result.stdout + result.stderr
