"""Snakemake's HTML report of the tiny demo run: every output the rules wrap in report() is in it,
embedded in the page, under its category and subcategory, with its labels and caption."""

from __future__ import annotations

import base64
import html as html_text
import re
from pathlib import Path

import pytest
from snakemake.io import regex_from_filepattern

from pcgc.spec.perturbations import Perturbation
from tests.workflow_helpers import report_contents, report_declarations, snakemake

pytestmark = pytest.mark.slow

RESULTS = "results/tiny"


@pytest.fixture(scope="module")
def built(tiny_workflow):
    """The report of the shared tiny run, what it holds, and what the rules declare for it."""
    workdir, configfile = tiny_workflow
    # Beside the results, not among them: the shared run's results folder must stay as it ran.
    page = workdir / "report.html"
    snakemake(workdir, configfile, "--report", str(page))
    return workdir, page, report_contents(page), report_declarations(workdir, configfile)


def run_files(workdir: Path) -> list[str]:
    """Every file of the run, relative to the working directory (Snakemake's own records aside)."""
    return sorted(
        path.relative_to(workdir).as_posix()
        for path in workdir.rglob("*")
        if path.is_file() and ".snakemake" not in path.relative_to(workdir).parts
    )


def declared_files(workdir: Path, declarations: list[dict]) -> dict[str, tuple[dict, dict[str, str]]]:
    """Each file on disk that a report() declaration matches: its declaration and wildcards."""
    found = {}
    files = run_files(workdir)
    for declaration in declarations:
        pattern = re.compile(regex_from_filepattern(declaration["pattern"]))
        for name in files:
            match = pattern.match(name)
            if match:
                assert name not in found, f"{name} is declared for the report twice"
                found[name] = (declaration, match.groupdict())
    return found


def plain(markup: str) -> str:
    """Text without markup (HTML tags, reStructuredText literals) and with single spaces."""
    text = html_text.unescape(re.sub(r"<[^>]+>", " ", markup)).replace("``", "")
    return " ".join(text.split())


def test_the_report_holds_every_declared_output_and_nothing_else(built):
    workdir, _, contents, declarations = built
    expected = declared_files(workdir, declarations)
    assert {declaration["category"] for declaration, _ in expected.values()} == {"Figures", "Tables", "Diagnostics"}
    assert sorted(contents["results"]) == sorted(expected)
    in_categories = [path for subcategories in contents["categories"].values() for paths in subcategories.values() for path in paths]
    assert sorted(in_categories) == sorted(expected)


def test_every_figure_and_table_the_run_wrote_is_declared(built):
    workdir, _, _, declarations = built
    expected = declared_files(workdir, declarations)
    written = [
        name
        for name in run_files(workdir)
        if name.startswith(f"{RESULTS}/")
        and Path(name).suffix in {".png", ".pdf", ".csv"}
        and Path(name).parts[2] not in {"logs", "benchmarks", "world"}
    ]
    figures = [name for name in written if name.startswith(f"{RESULTS}/figures/")]
    assert {str(Path(name).relative_to(f"{RESULTS}/figures").with_suffix("")) for name in figures} == {
        "fig1", "fig2", "fig3", "fig4", "diagnostics/hps_0/sigma0", "diagnostics/hps_1/sigma0"
    }
    assert [name for name in written if name not in expected] == []


def test_each_item_has_its_caption_category_and_labels(built):
    workdir, _, contents, declarations = built
    rows = {}
    for name, (declaration, wildcards) in declared_files(workdir, declarations).items():
        result = contents["results"][name]
        subcategories = contents["categories"][declaration["category"]]
        if declaration["subcategory"] == "function":  # by the branch's perturbation: noise levels, corruptions
            subcategory = next(key for key, paths in subcategories.items() if name in paths)
        else:
            subcategory = declaration["subcategory"]
        assert name in subcategories[subcategory]
        caption = plain(result["caption"])
        assert "{{" not in caption and "{%" not in caption, caption
        # The caption file's first words before any template expression, as rendered.
        source = Path(declaration["caption"]).read_text()
        opening = plain(re.sub(r"\{%.*?%\}\n?", "", source).split("{", 1)[0].split("`", 1)[0])
        assert len(opening) > 10 and caption.startswith(opening), (name, opening, caption)
        labels = result["labels"]
        if declaration["labels"] is None:
            assert labels is None
            continue
        if declaration["labels"] == "function":
            expected = dict(wildcards)
            if "perturbation" in expected:  # labelled by its parts: the noise level, or the family and severity
                perturbation = Perturbation.parse(expected.pop("perturbation"))
                parts = {"sigma": wildcards["perturbation"].removeprefix("sigma")} if perturbation.is_noise else perturbation.columns()
                expected |= {key: str(value) for key, value in parts.items()}
            assert set(expected.values()) <= set(labels.values()), (name, labels)
        else:
            assert labels == {key: value.format(**wildcards) for key, value in declaration["labels"].items()}
        # Within a subcategory the labels tell the items apart, as text (the page sorts them so).
        assert all(isinstance(value, str) for value in labels.values()), labels
        row = tuple(labels.values())
        key = (declaration["category"], subcategory)
        assert row not in rows.setdefault(key, set()), f"{name}: labels {labels} repeat in {key}"
        rows[key].add(row)
    # Wildcard outputs are labelled by their wildcards: the set or sweep and the noise level.
    tables = [contents["results"][name]["labels"] for name in contents["categories"]["Tables"]["Hyperparameter sets"]]
    assert sorted((labels["set"], labels["sigma"]) for labels in tables) == [("hps_0", "0"), ("hps_1", "0")]
    sweeps = [contents["results"][name]["labels"] for name in contents["categories"]["Tables"]["Sweeps"]]
    assert sorted((labels["sweep"], labels["sigma"]) for labels in sweeps) == [("fig3", "0"), ("fig4", "0"), ("fig4", "0.3")]


def test_the_report_is_self_contained(built):
    workdir, page, contents, _ = built
    for name, result in contents["results"].items():
        header, _, data = result["data_uri"].partition(";base64,")
        assert header.startswith(f"data:{result['mime_type']};"), header
        assert base64.b64decode(data) == (workdir / name).read_bytes(), name
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""<(script|img|link|iframe)\b[^>]*\b(src|href)=["']?(https?:)?//""", text)
    description = plain(contents["description"])
    assert description.startswith("pcgc: what predictive-coding feedback does to a CNN's evidence")
    assert f"results folder {RESULTS} " in description and "world: demo " in description
