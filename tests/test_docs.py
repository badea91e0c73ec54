"""Every reference in the project's text resolves inside the repository.

A user who clones pcgc has the repository and nothing else, so the README, docs/, docstrings and
comments may only point at files, sections and anchors that exist in it. The checks run over
every tracked text file and are themselves tested on a small tree with known faults.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Spelt in two pieces so that this file does not match its own check.
OUTSIDE_MARKERS = ("shared" + "/",)

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LINK = re.compile(r"(?<!\!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
_DOCS_MENTION = re.compile(r"(?<![\w./-])docs/[\w./-]*\w")
_SECTION_REFERENCE = re.compile(r"\b(README(?:\.md)?|docs/[\w.-]+\.md),\s*\"([^\"]+)\"")
_SKIPPED_DIRS = {".git", ".venv", "venv", "results", "resources", ".snakemake", "__pycache__", "build", "dist", ".pytest_cache"}


# -- what the checks read ---------------------------------------------------------------------------


def project_files(root: Path) -> list[Path]:
    """The repository's tracked files (or, outside a git checkout, every file outside build, cache
    and data folders)."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z"],
            cwd=root, capture_output=True, check=True,
        ).stdout.decode()
        names = [name for name in listing.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        names = [
            str(path.relative_to(root))
            for path in root.rglob("*")
            if path.is_file() and not _SKIPPED_DIRS.intersection(path.relative_to(root).parts[:-1])
            and not path.name.endswith(".egg-info")
        ]
    return sorted(root / name for name in names if (root / name).is_file())


def read_text(path: Path) -> str | None:
    """The file's text, or None for a binary file."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def text_files(root: Path) -> dict[Path, str]:
    files = {}
    for path in project_files(root):
        text = read_text(path)
        if text is not None:
            files[path] = text
    return files


def _prose_lines(markdown: str) -> list[tuple[int, str]]:
    """(line number, line) of a markdown text, outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(markdown.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def heading_texts(markdown: str) -> list[str]:
    return [match.group(2) for _, line in _prose_lines(markdown) if (match := _HEADING.match(line))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link syntax reduced to its text, lower case, punctuation
    other than '-' and '_' dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading's anchor, with GitHub's -1, -2, ... suffixes for repeated headings."""
    seen: dict[str, int] = {}
    result = set()
    for heading in heading_texts(markdown):
        base = slug(heading)
        count = seen.get(base, 0)
        result.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return result


# -- the checks: each returns its problems, one line each --------------------------------------------


def outside_references(files: dict[Path, str], root: Path) -> list[str]:
    return [
        f"{path.relative_to(root)}:{number}: points outside the repository: {line.strip()}"
        for path, text in files.items()
        for number, line in enumerate(text.splitlines(), start=1)
        if any(marker in line for marker in OUTSIDE_MARKERS)
    ]


def broken_markdown_links(files: dict[Path, str], root: Path) -> tuple[list[str], int]:
    """Relative links and images of every markdown file whose file or anchor does not exist; and
    how many relative links were checked."""
    problems, checked = [], 0
    for path, text in files.items():
        if path.suffix != ".md":
            continue
        for number, line in _prose_lines(text):
            for target in [m.group(1) for m in _LINK.finditer(line)] + [m.group(1) for m in _IMAGE.finditer(line)]:
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                    continue
                checked += 1
                where = f"{path.relative_to(root)}:{number}: link {target!r}"
                file_part, _, anchor = target.partition("#")
                linked = (path.parent / file_part).resolve() if file_part else path
                if not linked.is_relative_to(root):
                    problems.append(f"{where} leaves the repository")
                elif not linked.exists():
                    problems.append(f"{where}: {linked.relative_to(root)} does not exist")
                elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text(encoding="utf-8")):
                    problems.append(f"{where}: no heading of {linked.relative_to(root)} has the anchor #{anchor}")
    return problems, checked


def missing_docs_files(files: dict[Path, str], root: Path) -> tuple[list[str], int]:
    """`docs/...` paths named anywhere that do not exist; and how many were checked."""
    problems, checked = [], 0
    for path, text in files.items():
        for number, line in enumerate(text.splitlines(), start=1):
            for mention in _DOCS_MENTION.findall(line):
                checked += 1
                if not (root / mention.rstrip(".")).exists():
                    problems.append(f"{path.relative_to(root)}:{number}: {mention} does not exist")
    return problems, checked


def missing_sections(files: dict[Path, str], root: Path) -> tuple[list[str], int]:
    """References that name README or a page under docs, then a comma and a heading in double
    quotes, where the file has no such heading; and how many were checked."""
    problems, checked = [], 0
    for path, text in files.items():
        for number, line in enumerate(text.splitlines(), start=1):
            for document, section in _SECTION_REFERENCE.findall(line):
                checked += 1
                target = root / ("README.md" if document.startswith("README") else document)
                if not target.is_file():
                    problems.append(f"{path.relative_to(root)}:{number}: {document} does not exist")
                elif section not in heading_texts(target.read_text(encoding="utf-8")):
                    problems.append(f"{path.relative_to(root)}:{number}: {document} has no section {section!r}")
    return problems, checked


# -- the repository -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files() -> dict[Path, str]:
    found = text_files(ROOT)
    assert ROOT / "README.md" in found and ROOT / "pcgc" / "dynamics.py" in found, "the file listing missed the project"
    return found


def test_nothing_points_outside_the_repository(files):
    assert outside_references(files, ROOT) == []


def test_every_relative_markdown_link_and_anchor_resolves(files):
    problems, checked = broken_markdown_links(files, ROOT)
    assert problems == []
    assert checked >= 20, f"only {checked} relative links found: the link pattern is broken"


def test_every_docs_path_named_in_the_project_exists(files):
    problems, checked = missing_docs_files(files, ROOT)
    assert problems == []
    assert checked >= 10, f"only {checked} docs/ paths found: the pattern is broken"


def test_every_section_reference_names_an_existing_heading(files):
    problems, checked = missing_sections(files, ROOT)
    assert problems == []
    assert checked >= 5, f"only {checked} section references found: the pattern is broken"


def test_every_file_and_test_the_docs_name_exists(files):
    """Paths such as `pcgc/compute/cam.py` and test names such as `test_batch_invariance` in README.md and
    docs/ name things that exist, so the docs follow renames."""
    pages = {p: t for p, t in files.items() if p == ROOT / "README.md" or (p.parent == ROOT / "docs" and p.suffix == ".md")}
    tests = "\n".join(t for p, t in files.items() if p.parent == ROOT / "tests" and p.suffix == ".py")
    missing, checked = [], 0
    for path, text in pages.items():
        for name in re.findall(r"`((?:pcgc|tests|scripts|benchmarks|rules|config)/[\w./-]+\.(?:py|smk|yaml))`", text):
            checked += 1
            if not (ROOT / name).exists():
                missing.append(f"{path.relative_to(ROOT)}: {name}")
        for name in re.findall(r"`(test_\w+)`", text):
            checked += 1
            if not re.search(rf"^def {name}\(", tests, re.MULTILINE):
                missing.append(f"{path.relative_to(ROOT)}: no test named {name}")
    assert missing == []
    assert checked >= 30, f"only {checked} names found: the pattern is broken"


def test_every_docs_page_is_reachable_from_the_readme(files):
    pages = sorted(p for p in files if p.parent == ROOT / "docs" and p.suffix == ".md")
    assert pages, "docs/ has no pages"
    index = files[ROOT / "docs" / "README.md"]
    readme = files[ROOT / "README.md"]
    assert "(docs/README.md)" in readme
    unlinked = [p.name for p in pages if p.name != "README.md" and f"]({p.name})" not in index]
    assert unlinked == [], f"docs/README.md does not link {unlinked}"


# -- the checks themselves, on a tree with known faults ------------------------------------------------


def _write(path: Path, text: str) -> None:
    """`text` with DOCS/ for the docs folder and @ for a double quote, so that this file's own
    source holds none of the broken references it plants."""
    path.write_text(text.replace("DOCS/", "docs" + "/").replace("@", '"'))


def test_the_checks_find_each_kind_of_broken_reference(tmp_path):
    (tmp_path / "docs").mkdir()
    _write(tmp_path / "docs" / "page.md", "# Page\n\n## Known part\n\nBack to [the top](../README.md#usage).\n")
    _write(
        tmp_path / "README.md",
        "# Tool\n\n## Usage\n\n```\n[not a link](nowhere.md)\n```\n"
        "See [page](DOCS/page.md#known-part), [gone](DOCS/gone.md), [bad anchor](DOCS/page.md#unknown),\n"
        "[up](../outside.md), [self](#usage), [missing self](#nothing) and [web](https://example.org/x).\n",
    )
    _write(
        tmp_path / "code.py",
        "@@@Read DOCS/page.md and DOCS/absent.md (DOCS/page.md, @Known part@; README, @Usage@;\n"
        "README, @No such part@; DOCS/none.md, @Anything@).@@@\n# see ../" + "shared" + "/notes\n",
    )
    files = text_files(tmp_path)

    links, checked = broken_markdown_links(files, tmp_path)
    assert checked == 7
    assert len(links) == 4 and all(any(bad in p for p in links) for bad in ("gone.md", "#unknown", "outside.md", "#nothing"))

    docs, checked = missing_docs_files(files, tmp_path)
    assert checked == 7
    assert sorted(p.split(": ")[1].split("/")[1] for p in docs) == [
        "absent.md does not exist", "gone.md does not exist", "none.md does not exist"
    ]

    sections, checked = missing_sections(files, tmp_path)
    assert checked == 4
    assert len(sections) == 2 and "No such part" in " ".join(sections) and "none.md does not exist" in " ".join(sections)

    assert [p.split(":")[0] for p in outside_references(files, tmp_path)] == ["code.py"]


def test_anchors_follow_githubs_rule():
    text = "# A title\n## Figures 1, 3, 4\n## What reruns\n## What reruns\n```\n# not a heading\n```\n## `code` and [a link](x.md)\n"
    assert anchors(text) == {"a-title", "figures-1-3-4", "what-reruns", "what-reruns-1", "code-and-a-link"}
