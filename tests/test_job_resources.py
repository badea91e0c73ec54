"""What the network jobs ask a scheduler for, from the config and the job's size."""

from __future__ import annotations

import re

import pytest

from pcgc.spec.config import ConfigError, validate_config
from pcgc.spec.job_resources import JobSize, NetworkJobs, count_images
from tests.workflow_helpers import copy_workflow, default_config, snakemake, write_config


def jobs(device="cuda", **resources) -> NetworkJobs:
    config = default_config()
    config["extraction"]["device"] = device
    config["resources"].update(resources)
    return NetworkJobs.from_config(validate_config(config))


def test_runtime_is_the_work_at_the_devices_rate_with_margin_and_floor():
    network = jobs("cpu", gflops={"cpu": 10, "cuda": 1000}, runtime={"safety_factor": 2, "min_minutes": 5})
    # mini: 0.1197 GMACs = 0.2394 GFLOP per image-timestep; 10 GFLOP/s.
    size = JobSize(images=300, states=11, configurations=20)
    minutes = 0.2394 * 300 * 11 * 20 / 10 / 60
    assert network.runtime(size) == pytest.approx(2 * minutes, abs=1)
    assert network.runtime(JobSize(images=600, states=11, configurations=20)) == pytest.approx(4 * minutes, abs=1)
    assert network.runtime(JobSize(images=1, states=3)) == 5  # the floor
    # The GPU's rate applies on a GPU.
    assert jobs("auto", gflops={"cpu": 10, "cuda": 1000}, runtime={"safety_factor": 2, "min_minutes": 1}).runtime(size) == pytest.approx(2 * minutes / 100, abs=1)


def test_a_gpu_job_asks_for_one_gpu_with_its_cpus_and_a_cpu_job_for_none():
    size = JobSize(images=8, states=3)
    assert jobs("cuda:1", cpus=6, mem_mb=8000, gpu_model="a100").resources(size) == {
        "mem_mb": 8000, "runtime": 10, "gpu": 1, "cpus_per_gpu": 6, "gpu_model": "a100"
    }
    assert jobs("auto", gpu_model=None).resources(size)["gpu"] == 1
    assert "gpu_model" not in jobs("auto", gpu_model=None).resources(size)
    # A GPU type would make the executor ask for a GPU: a CPU job carries none.
    assert jobs("cpu", gpu_model="a100").resources(size) == {"mem_mb": 16000, "runtime": 10}


def test_a_chunks_runtime_is_a_function_of_its_wildcards():
    network = jobs("cpu", gflops={"cpu": 0.01, "cuda": 1}, runtime={"safety_factor": 1, "min_minutes": 1})
    runtime = network.resources(lambda wildcards: JobSize(wildcards["images"], 11, 4))["runtime"]
    assert runtime({"images": 100}) == network.runtime(JobSize(100, 11, 4)) > runtime({"images": 10}) > 1


def test_image_counts():
    assert count_images("all", 300) == 300 and count_images(64, 300) == 64 and count_images(["a", "b"], 300) == 2


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda r: r["gflops"].__setitem__("cuda", 0), r"resources\.gflops\.cuda: 0 is less than or equal to the minimum of 0"),
        (lambda r: r.__setitem__("gpu_model", "'a100'"), r"resources\.gpu_model: .* does not match"),
        (lambda r: r["runtime"].__setitem__("safety_factor", 0.5), r"resources\.runtime\.safety_factor: 0\.5 is less than the minimum of 1"),
        (lambda r: r.__setitem__("cpus", 4.0), r"resources\.cpus: 4\.0 is not of type 'integer'"),
        (lambda r: r.pop("mem_mb"), r"resources\.mem_mb: missing \(required key\)"),
    ],
)
def test_bad_resources_are_named(edit, message):
    config = default_config()
    edit(config["resources"])
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


def job_resources(output: str, rule: str) -> list[str]:
    """The `resources:` lines of a dry run's jobs of `rule`."""
    blocks = re.findall(rf"^rule {rule}:\n(.*?)(?=^\S|\Z)", output, re.M | re.S)
    return [re.search(r"^\s+resources: (.*)$", block, re.M).group(1) for block in blocks]


def test_the_network_rules_carry_the_resources_and_the_others_do_not(tmp_path):
    workdir = copy_workflow(tmp_path)
    config = default_config()
    config["resources"].update(cpus=3, mem_mb=7000, gpu_model="h100")
    result = snakemake(workdir, write_config(workdir, config), "--dry-run")
    output = result.stdout + result.stderr
    for rule in ("extract", "extract_conditions", "sweep_chunk", "fig1_cams"):
        lines = job_resources(output, rule)
        assert lines and all("gpu=1" in l and "gpu_model=h100" in l and "cpus_per_gpu=3" in l and "mem_mb=7000" in l for l in lines), rule
    for rule in ("demo_world", "train_demo", "score", "bootstrap", "fig2"):
        lines = job_resources(output, rule)
        assert lines and all("gpu" not in l for l in lines), rule
    assert re.search(r"rule extract:\n(?:.*\n)*?\s+threads: 2\n", output)  # 3 threads, capped at --cores 2
