"""The package's tiers, and that imports run one way between them.

Snakemake imports `pcgc.spec` while it parses the workflow (every cluster job parses it again), so
`pcgc.spec` imports no torch, h5py or other pcgc tier; tests/test_parse.py checks a real dry run.
Each tier may import the tiers listed before it and none after it, so there are no cycles between
tiers; within a tier, modules import each other without cycles too. Read from the sources (nothing
is imported), the same way `pcgc.spec.provenance` fingerprints them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pcgc"
# Lowest first: a module may import modules of its own tier and of the tiers before it.
TIERS = ("spec", "data", "compute", "storage", "analysis", "figures", "stages", "cli")
PARSE_TIME = ("spec",)
HEAVY = ("torch", "torchvision", "h5py", "matplotlib", "pandas", "scipy")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def tier(module: str) -> str | None:
    """The tier of a pcgc module: its subpackage, or `cli`; None for the package's own __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def imports(path: Path, known: set[str]) -> set[str]:
    """The pcgc modules (and external top-level packages) a source file imports, at any depth
    (imports inside functions count: they run when the function does)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            raise AssertionError(f"{path}: relative import; pcgc uses absolute imports only")
        else:
            continue
        for name in names:
            if name in known or not name.startswith("pcgc"):
                found.add(name if name in known else name.split(".")[0])
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: {m for m in imports(path, known) if m in known} for name, path in found.items()}


def test_every_module_belongs_to_a_tier():
    stray = [name for name in modules() if name != "pcgc" and tier(name) not in TIERS]
    assert stray == [], f"modules outside the tiers {TIERS}: {stray}"
    assert {tier(name) for name in modules() if name != "pcgc"} == set(TIERS)


def test_imports_run_one_way_between_tiers():
    rank = {name: k for k, name in enumerate(TIERS)}
    upward = [
        f"{module} ({tier(module)}) imports {target} ({tier(target)})"
        for module, targets in graph().items()
        for target in targets
        if tier(module) and tier(target) and rank[tier(target)] > rank[tier(module)]
    ]
    assert upward == []


def test_no_import_cycles_between_modules():
    edges = graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            # `import pcgc.x.y` also runs pcgc/x/__init__.py; the package __init__ files import
            # nothing of their children, so edges to packages are edges to their __init__ only.
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


@pytest.mark.parametrize("external", HEAVY)
def test_the_parse_time_tiers_import_no_heavy_package(external):
    found = modules()
    offenders = [
        name for name, path in found.items() if tier(name) in PARSE_TIME and external in imports(path, set(found))
    ]
    assert offenders == [], f"{offenders} import {external}, but Snakemake imports them while parsing"


def test_importing_the_parse_time_tiers_loads_nothing_else():
    """Importing every module of the parse-time tiers, in a fresh interpreter, loads no heavy
    package and no pcgc module outside those tiers (this catches imports the source scan cannot see,
    such as those of a package's __init__)."""
    names = [name for name in modules() if tier(name) in PARSE_TIME]
    probe = (
        "import importlib, json, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = set(__import__("json").loads(result.stdout))
    assert set(names) <= loaded
    assert sorted(loaded & set(HEAVY)) == []
    outside = sorted(n for n in loaded if n.startswith("pcgc.") and tier(n) not in PARSE_TIME)
    assert outside == []


def test_the_workflow_files_import_only_the_parse_time_tiers():
    """The Snakefile and rules/*.smk name only parse-time modules (Snakemake's own parser reads
    them, so they are scanned as text)."""
    sources = [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]
    named = set()
    for source in sources:
        for line in source.read_text().splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] in ("from", "import") and words[1].startswith("pcgc"):
                named.add((source.name, words[1]))
    assert any(module.startswith("pcgc.spec") for _, module in named), "the scan found no pcgc import"
    wrong = sorted((source, module) for source, module in named if tier(module) not in PARSE_TIME)
    assert wrong == []


# The jobs that need torch: they run a network, compute maps, scores or corruptions with it, or read
# checkpoints. Every other job is a table, a figure or a file: importing torch would add about two
# seconds to each of its start-ups (a sweep grid or a large configuration runs hundreds of them).
TORCH_SCRIPTS = {
    "corrupted_inputs", "extract", "extract_conditions", "fetch_weights", "fig1_cams", "score", "select_images", "sweep_chunk", "train_demo",
}


def closure(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen, pending = set(), list(start)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending.extend(edges.get(name, ()))
        # `import pcgc.x.y` also runs the __init__ of pcgc.x.
        parts = name.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))
    return seen


@pytest.mark.parametrize("script", sorted(p.stem for p in (ROOT / "scripts").glob("*.py") if p.stem not in TORCH_SCRIPTS))
def test_the_jobs_that_run_no_network_import_no_torch(script):
    found = modules()
    known = set(found)
    edges = {name: imports(path, known) for name, path in found.items()}
    reached = closure({m for m in imports(ROOT / "scripts" / f"{script}.py", known) if m in known}, edges)
    with_torch = sorted(name for name in reached if name in found and "torch" in edges[name])
    assert with_torch == [], f"scripts/{script}.py reaches {with_torch}, which import torch"
