"""Running the Snakemake workflow from tests: a private copy of it, tiny configs, job plans."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "config.yaml", "rules", "scripts", "pcgc", "report", "profiles", "envs")


def copy_workflow(destination: Path) -> Path:
    """A copy of the workflow that a test may edit (its own pcgc included) without touching the repo."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, destination / name)
    return destination


def default_config() -> dict[str, Any]:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def tiny_config(**overrides: Any) -> dict[str, Any]:
    """The default configuration shrunk to run end to end in about a minute on 2 CPU cores."""
    config = default_config()
    config["results"] = "results/tiny"
    config["demo"].update(num_classes=3, train_per_class=16, val_per_class=4)
    config["demo"]["training"].update(epochs=1, feedback_epochs=1, batch_size=16)
    config["selection"]["n_images"] = 8
    config["dynamics"]["timesteps"] = 2
    config["bootstrap"]["resamples"] = 50
    config["extraction"].update(batch_size=4, chunk_size=2)
    grid = {"alpha": 0.01, "n_images": "all", "store_maps": "none"}
    # Every key of the default's two sweeps is given: Snakemake merges a --configfile over config.yaml.
    config["sweeps"] = {
        # PCoders 1 and 5 x (0.5, 0), (0.5, 0.5), (1, 0): 6 cells, 5 configurations (PCoder 5 ignores lambda)
        "fig3": dict(grid, kind="single_pcoder", pcoders=[1, 5], beta=[0.5, 1.0], **{"lambda": [0.0, 0.5]}, sigmas=[0.0], store_maps="all"),
        "fig4": dict(grid, kind="shared", beta=[0.5], **{"lambda": [0.0, 0.5]}, sigmas=[0.0, 0.3], n_images=6),
    }
    config["figures"]["fig1"].update(sigma=0.3, images=2)
    # The mechanism's and the corruptions' branches are tested on their own (with_mechanism,
    # with_corruptions): off here, so that the other tests' job counts are those of the analysis
    # they test. Corruptions off is `families: null`: merged over config.yaml, {} would keep its.
    config["mechanism"] = None
    config["corruptions"].update(families=None, analysis=None)
    config["figures"]["corruptions"] = None
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        config[section][name] = value
    return config


def demo_mechanism() -> dict[str, Any]:
    """The demo's mechanism section (config.yaml's)."""
    return default_config()["mechanism"]


def with_mechanism(config: dict[str, Any]) -> dict[str, Any]:
    """The demo's mechanism section sized for a tiny configuration: at Figure 1's noise level
    (0.3, whose inputs exist), 6 of its 8 images in groups of 3, the scatter at the last timestep."""
    config["mechanism"] = dict(
        demo_mechanism(), sigmas=[0.3], n_images=6, shuffle_group=3, scatter_timestep=config["dynamics"]["timesteps"]
    )
    return config


def with_corruptions(config: dict[str, Any]) -> dict[str, Any]:
    """The demo's corruption section (config.yaml's families, severities and analysis) sized for
    a tiny configuration: 6 of its 8 images, the heatmap at t = 1 and 2."""
    demo = default_config()
    config["corruptions"] = dict(demo["corruptions"], analysis=dict(demo["corruptions"]["analysis"], images=6))
    config["figures"]["corruptions"] = dict(demo["figures"]["corruptions"], timesteps=[1, 2])
    return config


def shared_tiny_config() -> dict[str, Any]:
    """The configuration of the shared tiny run (conftest.tiny_workflow). One core and 2 GB per
    network job, so that two of its jobs share the SLURM test's 2-core node, and that run can take
    this one as its local reference: resources change no result, but a thread count can move the
    last bits."""
    config = tiny_config()
    config["resources"].update(cpus=1, mem_mb=2000)
    return config


def write_config(workdir: Path, config: dict[str, Any], name: str = "test.yaml") -> Path:
    path = workdir / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(workdir: Path, configfile: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", str(configfile), *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def planned_jobs(workdir: Path, configfile: Path, *args: str) -> dict[str, int]:
    """The jobs a dry run would execute, by rule: {} when there is nothing to be done."""
    result = snakemake(workdir, configfile, "--dry-run", *args)
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:", 1)[1]
    jobs = {}
    for line in table.splitlines()[3:]:
        match = re.fullmatch(r"\s*(\w+)\s+(\d+)\s*", line)
        if not match:
            break
        if match.group(1) != "total":
            jobs[match.group(1)] = int(match.group(2))
    return jobs


_STUB_RUN_JOB = '''

def run_job(snakemake, job):
    """Test stub (tests/workflow_helpers.stub_jobs): write the job's outputs without running it."""
    from pathlib import Path

    for path in [*snakemake.output, *snakemake.log]:
        path = Path(path)
        if snakemake.rule == "demo_world" and str(path) in snakemake.output:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("stub")
'''


def stub_jobs(workdir: Path) -> None:
    """Make every job of the copy at `workdir` write placeholder outputs instead of computing them.

    The scripts are untouched, so each rule keeps the code fingerprint of what its script imports:
    enough to test what reruns when, in seconds. Sweeps read their chunks' manifests and figure 1
    its data, so a stubbed run must leave them out (`sweeps: {}`, `figures.fig1/3/4: null`).
    """
    module = workdir / "pcgc/stages/__init__.py"
    module.write_text(module.read_text() + _STUB_RUN_JOB)


def without_sweeps(config: dict[str, Any]) -> dict[str, Any]:
    """No sweeps and no figures of them (run it with --replace-workflow-config: merged over
    config.yaml, `sweeps: {}` would keep the default's)."""
    config["sweeps"] = {}
    config["figures"].update(fig1=None, fig3=None, fig4=None)
    return config


_REPORT_DECLARATIONS = """
import json
import sys
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.io import get_flag_value, is_flagged
from snakemake.settings.types import ConfigSettings, OutputSettings, Quietness, ResourceSettings

with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
    workflow = api.workflow(
        resource_settings=ResourceSettings(cores=1),
        config_settings=ConfigSettings(configfiles=[Path(sys.argv[1])]),
        snakefile=Path("Snakefile"),
        workdir=Path("."),
    )._workflow
    declared = []
    for rule in workflow.rules:
        for output in rule.output:
            if is_flagged(output, "report"):
                item = get_flag_value(output, "report")
                labels = item.labels
                declared.append({
                    "rule": rule.name,
                    "pattern": str(output),
                    "caption": None if item.caption is None else item.caption.get_path_or_uri(secret_free=True),
                    "category": item.category,
                    "subcategory": "function" if callable(item.subcategory) else item.subcategory,
                    "labels": "function" if callable(labels) else labels,
                })
    print(json.dumps(declared))
"""


def report_declarations(workdir: Path, configfile: Path) -> list[dict[str, Any]]:
    """Every output the workflow's rules wrap in report(), read from the parsed rules: rule, file
    pattern (with wildcards), caption path, category, subcategory and labels ("function" where the
    subcategory or the labels are computed from the wildcards)."""
    result = subprocess.run(
        [sys.executable, "-c", _REPORT_DECLARATIONS, str(configfile)], cwd=workdir, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise AssertionError(f"reading the report declarations failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def report_contents(html: Path) -> dict[str, Any]:
    """What a `snakemake --report x.html` page holds: its `results` (path -> name, labels, caption,
    mime type, data URI, ...), `categories` (category -> subcategory -> paths) and the rendered
    workflow description, read from the page's script blocks."""
    text = html.read_text(encoding="utf-8")

    def variable(block: str) -> Any:
        start = text.index(f'<script id="{block}">')
        start = text.index("= ", start) + 2
        return json.JSONDecoder().raw_decode(text[start:])[0]

    return {"results": variable("results"), "categories": variable("categories"), "description": variable("workflow-desc")}
