"""The package's declared requirements agree with each other.

- envs/pcgc.yaml, the software of every job under `--software-deployment-method conda`, lists
  every runtime requirement of pyproject.toml with the same range, or a pin inside that range
  (torch and torchvision are pinned to constraints.txt's versions), and nothing else.
- The `[slurm]` extra brings an executor plugin with job arrays (profiles/slurm uses
  `slurm-array-jobs`), and `[test]` brings it too (tests/test_slurm.py).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from pcgc.spec.networks import NETWORKS

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "snakemake-executor-plugin-slurm"
# The first release with `--slurm-array-jobs`; the releases before it (all of 1.x among them)
# submit one job per chunk, and their last 1.x and 2.x releases stand for them below.
FIRST_WITH_ARRAYS = Version("2.6.0")
WITHOUT_ARRAYS = ["1.0.0", "1.9.2", "1.99.99", "2.0.0", "2.5.4"]


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirements(lines: list[str]) -> dict[str, Requirement]:
    """Requirements by canonical name; a name listed twice is an error."""
    out: dict[str, Requirement] = {}
    for line in lines:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name not in out, f"{req.name} is listed twice"
        out[name] = req
    return out


def env_pip_lines(env: dict) -> list[str]:
    sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "envs/pcgc.yaml: expected one `pip:` section"
    return sections[0]


def env_conda_python(env: dict) -> str:
    (python,) = [d for d in env["dependencies"] if isinstance(d, str) and d.split("=")[0] == "python"]
    return python.split("=", 1)[1]


def constraint_pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"constraints.txt: {line} is not a pin"
            pins[canonicalize_name(req.name)] = Version(spec.version)
    return pins


def pinned_version(spec: SpecifierSet) -> Version | None:
    """The version of a `==X` specifier set, or None for a range."""
    specs = list(spec)
    if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
        return Version(specs[0].version)
    return None


def mismatches(required: dict[str, Requirement], env: dict[str, Requirement]) -> list[str]:
    """What keeps the environment's pip requirements `env` from matching pyproject's `required`."""
    problems = []
    for name, req in required.items():
        if name not in env:
            problems.append(f"{req.name} ({req}) is missing")
            continue
        have = env[name]
        if not set(req.extras) <= set(have.extras):
            problems.append(f"{req.name}: extras {sorted(req.extras)} missing from {have}")
        pin = pinned_version(have.specifier)
        if pin is not None:
            if not req.specifier.contains(pin, prereleases=True):
                problems.append(f"{req.name}: pin {pin} is outside pyproject's range {req.specifier}")
        elif have.specifier != req.specifier:
            problems.append(f"{req.name}: range {have.specifier or '(none)'} is not pyproject's {req.specifier}")
    for name, have in env.items():
        if name not in required:
            problems.append(f"{have.name} is not a requirement of pyproject.toml")
    return problems


def expanded_extra(project: dict, extra: str) -> list[Requirement]:
    """An extra's requirements, with the project's own extras (`pcgc[slurm]`) expanded."""
    self_name = canonicalize_name(project["name"])
    out, todo, seen = [], [extra], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for line in project["optional-dependencies"][current]:
            req = Requirement(line)
            if canonicalize_name(req.name) == self_name:
                todo.extend(req.extras)
            else:
                out.append(req)
    return out


def plugin_problems(reqs: list[Requirement]) -> list[str]:
    plugins = [r for r in reqs if canonicalize_name(r.name) == PLUGIN]
    if not plugins:
        return [f"{PLUGIN} is missing"]
    problems = []
    for req in plugins:
        admitted = [v for v in WITHOUT_ARRAYS if req.specifier.contains(v, prereleases=True)]
        if admitted:
            problems.append(f"{req} admits {admitted}, releases without job arrays")
        if not req.specifier.contains(FIRST_WITH_ARRAYS):
            problems.append(f"{req} excludes {FIRST_WITH_ARRAYS}, the first release with job arrays")
    return problems


def network_extras() -> set[str]:
    """The extras the networks' builders need (NetworkRecord.requires): one per package."""
    return {package for record in NETWORKS.values() for package in record.requires}


def test_every_networks_requirement_is_an_extra_the_tests_install():
    project = pyproject()["project"]
    assert network_extras() == {"timm"}
    for package in network_extras():
        assert [canonicalize_name(r.name) for r in expanded_extra(project, package)] == [package], package
        assert package in {canonicalize_name(r.name) for r in expanded_extra(project, "test")}, package


def test_conda_environment_lists_every_runtime_requirement():
    project = pyproject()["project"]
    env = yaml.safe_load((ROOT / "envs" / "pcgc.yaml").read_text())
    runtime = project["dependencies"] + [str(r) for extra in sorted(network_extras()) for r in expanded_extra(project, extra)]
    problems = mismatches(requirements(runtime), requirements(env_pip_lines(env)))
    assert not problems, "envs/pcgc.yaml disagrees with pyproject.toml:\n  " + "\n  ".join(problems)


def test_conda_environment_pins_are_those_of_constraints():
    env = requirements(env_pip_lines(yaml.safe_load((ROOT / "envs" / "pcgc.yaml").read_text())))
    pins = constraint_pins()
    for name, req in env.items():
        pin = pinned_version(req.specifier)
        if pin is not None:
            assert name in pins, f"envs/pcgc.yaml pins {req}, which constraints.txt does not pin"
            assert pin == pins[name], f"envs/pcgc.yaml pins {req}, constraints.txt {pins[name]}"


def test_conda_environment_python_is_supported():
    data = pyproject()["project"]
    python = env_conda_python(yaml.safe_load((ROOT / "envs" / "pcgc.yaml").read_text()))
    assert SpecifierSet(data["requires-python"]).contains(python), (python, data["requires-python"])


def test_constraints_satisfy_pyproject():
    """CI installs with `-c constraints.txt`: each pin must lie inside the range it constrains."""
    project = pyproject()["project"]
    ranges = requirements(project["dependencies"])
    for extra in project["optional-dependencies"]:
        for req in expanded_extra(project, extra):
            ranges.setdefault(canonicalize_name(req.name), req)
    for name, pin in constraint_pins().items():
        if name in ranges:
            assert ranges[name].specifier.contains(pin, prereleases=True), (str(ranges[name]), str(pin))


@pytest.mark.parametrize("extra", ["slurm", "test"])
def test_extra_brings_the_slurm_plugin_with_job_arrays(extra):
    project = pyproject()["project"]
    assert extra in project["optional-dependencies"], f"pyproject.toml has no [{extra}] extra"
    problems = plugin_problems(expanded_extra(project, extra))
    assert not problems, f"[{extra}]: " + "; ".join(problems)


# The checks must be able to fail: the same functions on requirements that are wrong.


def test_mismatches_finds_what_is_wrong():
    required = requirements(["scipy>=1.11,<2", "torch>=2.1", "snakemake[reports]>=8.20,<10", "h5py>=3.9"])
    good = requirements(["scipy>=1.11,<2", "torch==2.14.1", "snakemake[reports]>=8.20,<10", "h5py>=3.9"])
    assert mismatches(required, good) == []
    env = requirements(["torch==2.0.1", "snakemake>=8.20,<10", "h5py>=3.8", "tqdm>=4"])
    problems = "\n".join(mismatches(required, env))
    for expected in ("scipy", "torch: pin 2.0.1", "snakemake: extras", "h5py: range", "tqdm is not"):
        assert expected in problems, (expected, problems)


def test_plugin_problems_finds_ranges_without_arrays():
    assert plugin_problems([Requirement(f"{PLUGIN}>=2.6,<3")]) == []
    assert plugin_problems([Requirement(f"{PLUGIN}>=1.0")])
    assert plugin_problems([Requirement(f"{PLUGIN}>=2.0")])
    assert plugin_problems([Requirement(f"{PLUGIN}<2.6")])
    assert plugin_problems([Requirement("pytest>=7.4")]) == [f"{PLUGIN} is missing"]
