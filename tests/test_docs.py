"""Every reference in the project's text resolves inside the repository, and the README and docs/
keep their shape.

A user who clones pcgc has the repository and nothing else, so the README, docs/, docstrings and
comments may only point at files, sections and anchors that exist in it. The README is the short
overview (at most README_MAX_LINES lines, the Quickstart's two commands unchanged, a link to every
docs/ page through docs/README.md); the docs/ pages are the reference and never send a reader back
to it. CITATION.cff cites pcgc and the two works it builds on. The checks run over every text file
git tracks or would track (untracked files that .gitignore does not exclude) and are themselves
tested on small trees with known faults.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

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

README_MAX_LINES = 200
RECIPE_MAX_LINES = 10
# The Quickstart's two commands, which must work unchanged from a fresh clone: the README holds
# them byte for byte, each on a line of its own.
QUICKSTART_COMMANDS = (
    "python3.11 -m venv .venv && .venv/bin/pip install -c constraints.txt -e . && .venv/bin/snakemake --cores 2",
    "python3.11 -m venv .venv && .venv/bin/pip install -c constraints.txt -e '.[test]' && .venv/bin/python -m pytest",
)


# -- what the checks read ---------------------------------------------------------------------------


def project_files(root: Path) -> list[Path]:
    """The repository's files: tracked, or untracked and not ignored, so that a new page is checked
    before it is committed (outside a git checkout, every file outside build, cache and data
    folders)."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
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


def _docs_pages(files: dict[Path, str], root: Path) -> dict[Path, str]:
    return {path: text for path, text in files.items() if path.parent == root / "docs" and path.suffix == ".md"}


def links_back_to_the_readme(files: dict[Path, str], root: Path) -> list[str]:
    """Places where a docs/ page sends the reader back to the top-level README: a link or image
    that resolves to it, or a section reference that names it (as `missing_sections` reads them)."""
    problems = []
    top = (root / "README.md").resolve()
    for path, text in _docs_pages(files, root).items():
        for number, line in _prose_lines(text):
            for target in [m.group(1) for m in _LINK.finditer(line)] + [m.group(1) for m in _IMAGE.finditer(line)]:
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue
                file_part = target.partition("#")[0]
                if file_part and (path.parent / file_part).resolve() == top:
                    problems.append(f"{path.relative_to(root)}:{number}: links to the README: {target}")
        for number, line in enumerate(text.splitlines(), start=1):
            for document, section in _SECTION_REFERENCE.findall(line):
                if document.startswith("README"):
                    problems.append(f"{path.relative_to(root)}:{number}: refers to the README's section {section!r}")
    return problems


def pages_missing_from_the_index(files: dict[Path, str], root: Path) -> list[str]:
    """docs/ pages that docs/README.md does not link (by a link that resolves to the page)."""
    index = files.get(root / "docs" / "README.md")
    if index is None:
        return ["docs/README.md does not exist"]
    linked = set()
    for _, line in _prose_lines(index):
        for target in (m.group(1) for m in _LINK.finditer(line)):
            file_part = target.partition("#")[0]
            if file_part and not re.match(r"^[a-z][a-z0-9+.-]*:", target):
                linked.add((root / "docs" / file_part).resolve())
    return [
        f"docs/README.md does not link {path.name}"
        for path in sorted(_docs_pages(files, root))
        if path.name != "README.md" and path.resolve() not in linked
    ]


def readme_shape_problems(readme: str) -> list[str]:
    """What keeps the README from being the short overview: too many lines, a Quickstart command
    missing or changed, a recipe longer than RECIPE_MAX_LINES lines."""
    problems = []
    lines = readme.splitlines()
    if len(lines) > README_MAX_LINES:
        problems.append(f"README.md has {len(lines)} lines, more than {README_MAX_LINES}")
    for command in QUICKSTART_COMMANDS:
        if command not in lines:
            problems.append(f"README.md lacks the Quickstart command, unchanged: {command}")
    # A recipe: a level-3 section under "## Recipes", from its heading to the next heading.
    recipes: dict[str, list[str]] = {}
    current, in_recipes, fenced = None, False, False
    for line in lines:
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            current, in_recipes = None, line.strip() == "## Recipes"
            continue
        elif not fenced and line.startswith("### "):
            current = line[4:].strip() if in_recipes else None
            if current is not None:
                recipes[current] = []
            continue
        if current is not None:
            recipes[current].append(line)
    for name, body in recipes.items():
        length = len("\n".join(body).strip("\n").splitlines())
        if length > RECIPE_MAX_LINES:
            problems.append(f"README.md: the recipe {name!r} has {length} lines, more than {RECIPE_MAX_LINES}")
    return problems


def citation_problems(text: str) -> list[str]:
    """What a CITATION.cff lacks: valid YAML in CFF 1.2.0 with a message, title, authors, version
    and licence, and references to the ESANN 2025 paper and to Predify (NeurIPS 2021)."""
    try:
        cff = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return [f"CITATION.cff is not valid YAML: {error}"]
    if not isinstance(cff, dict):
        return ["CITATION.cff is not a mapping"]
    problems = [f"CITATION.cff lacks {key!r}" for key in ("message", "title", "authors", "version", "license") if not cff.get(key)]
    if cff.get("cff-version") != "1.2.0":
        problems.append(f"CITATION.cff: cff-version {cff.get('cff-version')!r}, expected '1.2.0'")
    references = cff.get("references") or []

    def cited(year: int, *words: str) -> bool:
        return any(
            isinstance(reference, dict) and reference.get("year") == year and reference.get("authors")
            and all(word.lower() in yaml.safe_dump(reference).lower() for word in words)
            for reference in references
        )

    if not cited(2025, "ESANN", "predictive coding", "explainability"):
        problems.append("CITATION.cff does not reference the ESANN 2025 paper")
    if not cited(2021, "Predify", "Neural Information Processing Systems"):
        problems.append("CITATION.cff does not reference Predify (NeurIPS 2021)")
    return problems


# -- the repository -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files() -> dict[Path, str]:
    found = text_files(ROOT)
    assert ROOT / "README.md" in found and ROOT / "pcgc" / "compute" / "dynamics.py" in found, "the file listing missed the project"
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
    pages = _docs_pages(files, ROOT)
    assert len(pages) >= 5, "docs/ has too few pages: the listing is broken"
    assert "(docs/README.md)" in files[ROOT / "README.md"]
    assert pages_missing_from_the_index(files, ROOT) == []


def test_docs_pages_do_not_send_readers_back_to_the_readme(files):
    assert links_back_to_the_readme(files, ROOT) == []


def test_the_readme_is_a_short_overview_with_the_quickstart_unchanged(files):
    assert readme_shape_problems(files[ROOT / "README.md"]) == []


def test_the_citation_file_cites_pcgc_and_the_works_it_builds_on(files):
    assert ROOT / "CITATION.cff" in files, "CITATION.cff is missing"
    assert citation_problems(files[ROOT / "CITATION.cff"]) == []
    licence = files.get(ROOT / "LICENSE", "")
    assert licence.startswith("MIT License") and "pcgc contributors" in licence


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


def test_the_shape_checks_find_each_fault(tmp_path):
    (tmp_path / "docs").mkdir()
    _write(tmp_path / "README.md", "# Tool\n\n## Usage\n")
    _write(tmp_path / "docs" / "README.md", "# Index\n\n[listed](listed.md), [top](../README.md)\n")
    _write(tmp_path / "docs" / "listed.md", "# Listed\n\nSee [the overview](../README.md#usage) and (README, @Usage@).\n")
    _write(tmp_path / "docs" / "orphan.md", "# Orphan\n\nThe index of this folder: [index](README.md).\n")
    files = text_files(tmp_path)

    back = links_back_to_the_readme(files, tmp_path)
    assert len(back) == 3 and sum("listed.md" in p for p in back) == 2 and sum("docs/README.md" in p for p in back) == 1
    assert pages_missing_from_the_index(files, tmp_path) == ["docs/README.md does not link orphan.md"]
    assert pages_missing_from_the_index({}, tmp_path) == ["docs/README.md does not exist"]

    good = "# Tool\n\n## Quickstart\n\n" + "\n".join(QUICKSTART_COMMANDS) + "\n\n## Recipes\n\n### Short\n\nrun it\n"
    assert readme_shape_problems(good) == []
    changed = good.replace("--cores 2", "--cores 4")
    assert [p.split(":")[0] for p in readme_shape_problems(changed)] == ["README.md lacks the Quickstart command, unchanged"]
    assert "more than 200" in " ".join(readme_shape_problems(good + "line\n" * README_MAX_LINES))
    long_recipe = good + "step\n" * RECIPE_MAX_LINES
    assert ["recipe 'Short'" in p for p in readme_shape_problems(long_recipe)] == [True]
    assert len(readme_shape_problems(good + "\n## After\n\n### Not a recipe\n" + "x\n" * 20)) == 0


def test_the_citation_check_finds_each_fault():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation_problems(yaml.safe_dump(cff)) == []
    assert citation_problems("cff-version: [unclosed") != []
    without_predify = dict(cff, references=[r for r in cff["references"] if "Predify" not in r["title"]])
    assert citation_problems(yaml.safe_dump(without_predify)) == ["CITATION.cff does not reference Predify (NeurIPS 2021)"]
    without_paper = dict(cff, references=[r for r in cff["references"] if r["year"] != 2025])
    assert citation_problems(yaml.safe_dump(without_paper)) == ["CITATION.cff does not reference the ESANN 2025 paper"]
    assert citation_problems(yaml.safe_dump(dict(cff, **{"cff-version": "1.1.0"}))) != []
    assert citation_problems(yaml.safe_dump({k: v for k, v in cff.items() if k != "message"})) == ["CITATION.cff lacks 'message'"]
