# Snakemake's HTML report (`snakemake --report results/<name>/report.html`): which outputs it holds,
# under which category and subcategory, with which caption (report/<name>.rst; the paths below are
# relative to rules/) and labels. Rules wrap an output in one of the helpers here and name it; all
# report settings stay in this file. An output's report flag is part of neither a job's parameters
# nor its code, so declaring or changing it reruns nothing.
#
# Label values are text (the report sorts them as strings), and within a subcategory they tell
# the items apart: each item is one row of the subcategory's table.

REPORT_CATEGORIES = ("Figures", "Tables", "Diagnostics")


def _report_item(path, caption, category, subcategory, labels=None):
    """`subcategory` and `labels` may be functions of the wildcards (Snakemake calls them)."""
    if category not in REPORT_CATEGORIES:
        raise WorkflowError(f"report category {category!r} of {path} is not one of {REPORT_CATEGORIES}")
    return report(path, caption=f"../report/{caption}.rst", category=category, subcategory=subcategory, labels=labels)


def _joined_sigmas(sigmas):
    return ", ".join(map(sigma_label, sigmas))


# Per figure: its subcategory (what it is drawn from) and its labels, from its config section.
REPORT_FIGURES = {
    "fig1": ("Grad-CAMs", lambda figure: {"figure": "Figure 1", "sigma": sigma_label(figure["sigma"])}),
    "fig2": (
        "Hyperparameter sets",
        lambda figure: {
            "figure": "Figure 2",
            "sets": ", ".join(figure["hyperparameter_sets"]),
            "sigma": sigma_label(figure["sigma"]),
        },
    ),
    "fig3": (
        "Sweeps",
        lambda figure: {"figure": "Figure 3", "sweep": figure["sweep"], "sigma": sigma_label(figure["sigma"])},
    ),
    "fig4": (
        "Sweeps",
        lambda figure: {
            "figure": "Figure 4",
            "sweep": figure["sweep"],
            "sigma": _joined_sigmas(config["sweeps"][figure["sweep"]]["sigmas"]),
        },
    ),
}


def perturbation_labels(file_format=None, first=None):
    """The labels of a branch's output, a function of its wildcards: `first(wildcards)` (default:
    the set), then the noise level (`sigma`) or the corruption (`family`, `severity`), then the
    file format."""

    def labels(wildcards):
        found = dict(first(wildcards)) if first is not None else {"set": wildcards.hps}
        columns = perturbation_of(wildcards).columns()
        if "sigma" in columns:
            found["sigma"] = wildcards.perturbation.removeprefix("sigma")
        else:
            found.update(family=columns["family"], severity=str(columns["severity"]))
        return {**found, **({"format": file_format} if file_format else {})}

    return labels


def perturbation_subcategory(noise, corruption):
    """A subcategory by the kind of a branch's perturbation: noise levels and corruptions apart,
    each with its own labels."""
    return lambda wildcards: noise if wildcards.perturbation.startswith("sigma") else corruption


# Per summary table: its subcategory and its labels (wildcard patterns, or a function of the
# wildcards): the hyperparameter set or sweep, and the noise level or the corruption.
REPORT_TABLES = {
    "bootstrap": (perturbation_subcategory("Hyperparameter sets", "Corruptions"), perturbation_labels()),
    # Figure 2's table carries the figure's own labels.
    "fig2_table": ("Figure 2", REPORT_FIGURES["fig2"][1](config["figures"]["fig2"])),
    "sweep_summary": (
        perturbation_subcategory("Sweeps", "Corruption sweeps"),
        perturbation_labels(
            first=lambda wildcards: {"sweep": wildcards.sweep, "kind": config["sweeps"][wildcards.sweep]["kind"]}
        ),
    ),
}


def figure_report(path, name):
    """Figure `name` (a key of config["figures"]) as PNG or PDF: caption report/<name>.rst, the
    format as its last label."""
    subcategory, labels = REPORT_FIGURES[name]
    format_label = {"format": Path(path).suffix.lstrip(".").upper()}
    return _report_item(path, name, "Figures", subcategory, {**labels(config["figures"][name]), **format_label})


def table_report(path, name):
    """Summary table `name` (a key of REPORT_TABLES): caption report/<name>.rst."""
    subcategory, labels = REPORT_TABLES[name]
    return _report_item(path, name, "Tables", subcategory, labels)


def diagnostic_report(path, caption, subcategory, labels=None):
    """What the results rest on (the selected images, the network's weights) and how the dynamics
    behave (convergence); `labels` as in `table_report`."""
    return _report_item(path, caption, "Diagnostics", subcategory, labels)
