"""What produced an output: package versions, and a fingerprint of the code behind each stage.

Snakemake reruns a job when its rule text, script or params change, but it does not look inside
an imported package. Each rule therefore passes `script_fingerprint(<its script>)` as a param: a
hash of the syntax trees of every `pcgc` module the script imports, transitively, found by reading
the sources (nothing is imported, so parsing the Snakefile stays light). An edit that changes the
code reruns the stage and everything downstream; an edit to comments or formatting only does not.
"""

from __future__ import annotations

import ast
import hashlib
import platform
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Mapping

from pcgc.spec.networks import NETWORKS, NetworkRecord

PACKAGE = "pcgc"
# `build_network` imports each network's builder module by the name its record gives
# (pcgc.spec.networks), which no syntax tree shows: to the fingerprints they are imports of this package.
NETWORK_PACKAGE = f"{PACKAGE}.compute.networks"


PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def _find_source(module: str) -> Path | None:
    """The source file of a pcgc module, found on disk without importing anything."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_ROOT.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _source_path(module: str) -> Path:
    path = _find_source(module)
    if path is None:
        raise ModuleNotFoundError(f"cannot find the source of module {module!r} under {PACKAGE_ROOT}")
    return path


def _imported_package_modules(module: str, tree: ast.AST) -> set[str]:
    """Names of the pcgc modules that `module` imports (absolute or relative)."""
    package = module if _source_path(module).name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            # `from pcgc.compute.networks import mini` may name a submodule as well as an attribute.
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if _find_source(name) is not None:
                found.add(name)
    return found


@lru_cache(maxsize=None)
def _module_facts(module: str, path: Path, stamp: tuple[int, int]) -> tuple[frozenset[str], bytes]:
    """The pcgc modules a module imports and the dump of its syntax tree. `stamp` (mtime, size) keys
    the cache, so an edited file is read again; every rule's fingerprint walks the same modules."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return frozenset(_imported_package_modules(module, tree)), ast.dump(tree).encode()


def _module_syntax(module: str) -> tuple[frozenset[str], bytes]:
    path = _source_path(module)
    stat = path.stat()
    return _module_facts(module, path, (stat.st_mtime_ns, stat.st_size))


def _module_closure(module: str, exclude: frozenset[str] = frozenset()) -> tuple[str, ...]:
    seen: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        if name in seen or name in exclude:
            continue
        seen.add(name)
        pending.extend(_module_syntax(name)[0] - seen)
        if name == NETWORK_PACKAGE:
            pending.extend(_builder_modules(NETWORKS) - seen)
        # A submodule import also runs its packages' __init__ modules.
        parts = name.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) not in seen)
    return tuple(sorted(seen))


def code_fingerprint(*modules: str, exclude: frozenset[str] = frozenset()) -> str:
    """SHA-256 over the syntax trees of `modules` and the pcgc modules they import, leaving out
    (and not following) the modules in `exclude`."""
    names = sorted({name for module in modules for name in _module_closure(module, frozenset(exclude))})
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode())
        digest.update(_module_syntax(name)[1])
    return digest.hexdigest()


def script_modules(script: str | Path) -> tuple[str, ...]:
    """The pcgc modules a script outside the package imports itself (absolute imports)."""
    script = Path(script)
    found: set[str] = set()
    for node in ast.walk(ast.parse(script.read_text(), filename=str(script))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if _find_source(name) is not None)
    return tuple(sorted(found))


def script_fingerprint(script: str | Path, exclude: frozenset[str] = frozenset()) -> str:
    """`code_fingerprint` of what `script` imports from pcgc: the code its job runs."""
    return code_fingerprint(*script_modules(script), exclude=exclude)


def _builder_modules(networks: Mapping[str, NetworkRecord]) -> set[str]:
    """The networks' builder modules that are pcgc's (a builder elsewhere has no fingerprint here)."""
    return {record.builder for record in networks.values() if _find_source(record.builder) is not None}


def unused_spec_modules(spec: str, networks: Mapping[str, NetworkRecord] = NETWORKS) -> frozenset[str]:
    """The builder modules of the other networks that `spec`'s own builder does not import.
    `pcgc.compute.networks` can build every network, but a job that runs `spec` never calls another
    network's code, so editing, say, `mini` must not rerun the PVGG16 jobs (days of work)."""
    own_builder = networks[spec].builder
    if _find_source(own_builder) is None:
        own: set[str] = set()
    else:
        # Not through pcgc.compute.networks itself, which reaches every builder.
        own = set(_module_closure(own_builder, frozenset({NETWORK_PACKAGE})))
    others = {name: record for name, record in networks.items() if name != spec}
    return frozenset(_builder_modules(others) - own)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the numbers."""
    found = {"python": platform.python_version()}
    for package in ("pcgc", "torch", "torchvision", "numpy", "h5py", "pandas", "pillow"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found
