# Shared names: result paths, wildcard values and the helpers the rules use.

RESULTS = config["results"]
HPS_NAMES = list(config["hyperparameters"])
# Every noise level in use (hyperparameter sets, sweeps, figure 1), by its file label.
SIGMAS = {sigma_label(s): s for s in all_sigmas(config)}
# The corruption branches that run through extract, score and bootstrap, and the sets they run.
CORRUPTION_ANALYSIS = config["corruptions"]["analysis"]
ANALYSED = [Perturbation.corruption(family, severity) for family, severity in analysed_branches(config)]
CORRUPTION_SETS = [] if CORRUPTION_ANALYSIS is None or not ANALYSED else CORRUPTION_ANALYSIS["hyperparameter_sets"]


SET_NAME = "[A-Za-z0-9_-]+"


wildcard_constraints:
    # A named set, or `{set}@{condition}`: the set under a condition of the mechanism (rules/mechanism.smk).
    hps=f"{SET_NAME}(@[a-z_]+)?",
    sigma="[0-9.e+-]+",
    # What degrades a branch's inputs: `sigma{s}` or `corruptions/{family}/severity{n}` (pcgc.spec.perturbations).
    perturbation=PERTURBATION_WILDCARD,
    sweep="[A-Za-z0-9_-]+",
    chunk="[0-9a-f]{16}",


def perturbation_of(wildcards):
    """The perturbation a branch's `perturbation` wildcard names: a noise level of this
    configuration (its value as configured), or a corruption."""
    try:
        perturbation = Perturbation.parse(wildcards.perturbation)
    except ValueError as error:
        raise WorkflowError(str(error)) from None
    if perturbation.is_noise:
        label = wildcards.perturbation.removeprefix("sigma")
        if label not in SIGMAS:
            raise WorkflowError(f"{wildcards.perturbation}: not a noise level of this configuration ({sorted(SIGMAS)})")
        return Perturbation.noise(SIGMAS[label])
    return perturbation


def perturbation_columns(wildcards):
    """The perturbation's columns in the tables: {sigma} or {family, severity}."""
    return perturbation_of(wildcards).columns()


# The other networks' builder modules, which no job of this configuration runs (see
# pcgc.spec.provenance.unused_spec_modules).
UNUSED_SPEC_MODULES = unused_spec_modules(config["model"]["spec"], NETWORKS)


def script_code(script):
    """The fingerprint of the pcgc code that scripts/<script>.py imports: a rule's `code` param."""
    return script_fingerprint(Path(workflow.basedir) / "scripts" / f"{script}.py", exclude=UNUSED_SPEC_MODULES)


# What the jobs that run the network ask a scheduler for (pcgc.spec.job_resources); resources and
# threads are not params, so changing them (or the device) reruns nothing. Their threads are
# resources.cpus (a local run caps them at --cores).
NETWORK_JOBS = NetworkJobs.from_config(config)
STATES = config["dynamics"]["timesteps"] + 1

# The software of every job, for `--software-deployment-method conda` (the same pins as
# constraints.txt); without that option the jobs run in Snakemake's own environment.
CONDA_ENV = "../envs/pcgc.yaml"


def log_path(name):
    return f"{RESULTS}/logs/{name}.log"


def benchmark_path(name):
    return f"{RESULTS}/benchmarks/{name}.tsv"


# The world (rules/world.smk): WORLD, WEIGHTS.


def weights_identity(weights):
    """What fixes the fetched files' content: each source's sha256 where given (the fetch verifies
    it, wherever the file comes from), else its location; and the archive members a user named."""
    identity = {
        role: weights[role]["sha256"] or weights[role]["url"] or weights[role]["path"]
        for role in ("backbone", "feedback_archive")
    }
    if "members" in weights["feedback_archive"]:
        identity["feedback_members"] = weights["feedback_archive"]["members"]
    return identity


def world_files(wildcards):
    """The dataset files a job reads: the images' folder, the class list and the mapping file."""
    files = {"root": WORLD["root"]}
    if config["world"] == "imagenet_s":
        files["categories"] = WORLD["categories"]
        if WORLD["mapping"] is not None:
            files["mapping"] = WORLD["mapping"]
    return files


# Sweeps (rules/sweeps.smk): SWEEPS, SWEEP_CELLS, SWEEP_PLANS.


def sweep_folder(sweep, perturbation):
    """A sweep's folder at one perturbation (its label: `sigma{s}` or `corruptions/{family}/severity{n}`)."""
    return f"{RESULTS}/sweeps/{sweep}/{perturbation}"


def sweep_plan(wildcards):
    try:
        return SWEEP_PLANS[(wildcards.sweep, wildcards.perturbation)]
    except KeyError:
        raise WorkflowError(
            f"sweep {wildcards.sweep!r} does not run at {wildcards.perturbation} in this configuration"
        ) from None


def chunk_configurations(wildcards):
    plan = sweep_plan(wildcards)
    if wildcards.chunk not in plan:
        raise WorkflowError(
            f"chunk {wildcards.chunk} is not in the plan of sweep {wildcards.sweep} at {wildcards.perturbation}"
        )
    return [configuration.as_dict() for configuration in plan[wildcards.chunk]]


def chunk_job_size(wildcards):
    """The network work of one chunk: its configurations on the sweep's images."""
    images = count_images(SWEEPS[wildcards.sweep]["n_images"], config["selection"]["n_images"])
    return JobSize(images, STATES, len(sweep_plan(wildcards)[wildcards.chunk]))


def sweep_chunks(wildcards):
    folder = sweep_folder(wildcards.sweep, wildcards.perturbation)
    return [f"{folder}/chunks/{name}.h5" for name in sweep_plan(wildcards)]


def sweep_outputs(name, filename, noise=True, corruptions=True):
    """The file `filename` of sweep `name` at each of its noise levels and/or corruptions."""
    return [
        f"{sweep_folder(name, perturbation.label)}/{filename}"
        for perturbation in sweep_perturbations(SWEEPS[name])
        if (noise if perturbation.is_noise else corruptions)
    ]


# Figures (rules/figures.smk).


def grid_axes(sweep):
    return {"betas": list(grid_values(SWEEPS[sweep]["beta"])), "lambdas": list(grid_values(SWEEPS[sweep]["lambda"]))}


# The mechanism (rules/mechanism.smk, docs/mechanism.md): conditions run as `{set}@{condition}`.

MECHANISM = config["mechanism"]
# What the mechanism perturbs its inputs with: its noise levels, then its corruptions (catalogue order).
MECHANISM_PERTURBATIONS = (
    []
    if MECHANISM is None
    else [
        *map(Perturbation.noise, MECHANISM["sigmas"]),
        *(Perturbation.corruption(family, severity) for family, severity in mechanism_corruptions(config)),
    ]
)
# The mechanism's extractions: Grad-CAM on the top layer, the map its figures and statistics use.
MECHANISM_CAM = {"methods": ["gradcam"], "layers": ["top"]}


def mechanism_conditions():
    return [] if MECHANISM is None else [TRAINED, *MECHANISM["controls"]]


def condition_name(condition):
    return f"{MECHANISM['hyperparameter_set']}@{condition}"


def extraction_set(wildcards):
    """The named set a plain extraction runs (a condition's run in extract_conditions); a corruption
    branch runs a set of corruptions.analysis."""
    if not perturbation_of(wildcards).is_noise and wildcards.hps not in CORRUPTION_SETS:
        raise WorkflowError(
            f"{wildcards.hps}/{wildcards.perturbation}: the corruption branches run the sets of "
            f"corruptions.analysis.hyperparameter_sets ({CORRUPTION_SETS}), or a condition of the mechanism"
        )
    return wildcards.hps


def extraction_hyperparameters(wildcards):
    return config["hyperparameters"][extraction_set(wildcards)]


def extraction_cam(wildcards):
    return config["cam"] if perturbation_of(wildcards).is_noise else CORRUPTION_ANALYSIS["cam"]


def extraction_images(wildcards):
    """The images an extraction runs: all selected ones (None), or corruptions.analysis's seeded
    subset for a corruption branch."""
    if perturbation_of(wildcards).is_noise:
        return None
    return image_subset_param(CORRUPTION_ANALYSIS["images"])


def image_subset_param(n_images):
    """`all` (None) or a seeded subset of n_images of the selected images (seed: selection.seed)."""
    return None if n_images == "all" else {"n_images": n_images, "seed": config["selection"]["seed"]}


def extraction_size(wildcards):
    """The network work of one extraction: its images (all selected, or its subset), every state."""
    subset = extraction_images(wildcards)
    return JobSize(config["selection"]["n_images"] if subset is None else subset["n_images"], STATES)


# The top layer's name in the score tables (Grad-CAM on `top` is stored under it).
MECHANISM_TOP = f"pcoder{NETWORKS[config['model']['spec']].num_pcoders}"


def mechanism_files(kind, extension):
    def files(wildcards):
        # In the order of mechanism_conditions() (the scripts pair them with params.conditions).
        return [
            f"{RESULTS}/{kind}/{condition_name(condition)}/{wildcards.perturbation}.{extension}"
            for condition in mechanism_conditions()
        ]

    return files


def mechanism_report(path, caption, category, item, file_format=None):
    """A mechanism output in the report: subcategory Mechanism (noise levels) or Mechanism under
    corruptions, labelled by item, then noise level or family and severity."""
    return _report_item(
        path,
        caption,
        category,
        perturbation_subcategory("Mechanism", "Mechanism under corruptions"),
        perturbation_labels(file_format, first=lambda wildcards: {"item": item}),
    )


def mechanism_perturbation(wildcards):
    """The branch's perturbation: one of mechanism.sigmas or mechanism.corruptions."""
    perturbation = perturbation_of(wildcards)
    if perturbation not in MECHANISM_PERTURBATIONS:
        raise WorkflowError(
            f"{wildcards.perturbation} is not a perturbation of the mechanism "
            f"(mechanism.sigmas {MECHANISM['sigmas']}, mechanism.corruptions {MECHANISM['corruptions']})"
        )
    return perturbation


def mechanism_inputs(wildcards):
    """The perturbed inputs of the mechanism's branch (refused where the mechanism does not run
    it), and the clean ones (sigma 0) its representation recovery compares them with."""
    mechanism_perturbation(wildcards)
    return {
        "inputs": f"{RESULTS}/inputs/{wildcards.perturbation}.h5",
        "clean": f"{RESULTS}/inputs/sigma{sigma_label(0.0)}.h5",
    }


def mechanism_extraction_size(wildcards):
    """The network work of the conditions' extraction: every condition on the mechanism's images."""
    subset = image_subset_param(MECHANISM["n_images"])
    images = config["selection"]["n_images"] if subset is None else subset["n_images"]
    return JobSize(images, STATES, len(mechanism_conditions()))


def mechanism_perturbation_columns(wildcards):
    """The branch's columns in the mechanism's tables: {sigma} or {family, severity}."""
    return mechanism_perturbation(wildcards).columns()


def mechanism_outputs():
    """What `all` asks of the mechanism: its figures (and so every table) at each perturbation."""
    return [
        f"{RESULTS}/figures/{name}/{perturbation.label}.{suffix}"
        for name in ("mechanism", "controls")
        for perturbation in MECHANISM_PERTURBATIONS
        for suffix in ("png", "pdf")
    ]


# Corruptions beside localisation (rules/corruptions.smk, docs/corruptions.md).

FIG_CORRUPTIONS = config["figures"]["corruptions"]
FIG4_CORRUPTIONS = config["figures"]["fig4_corruptions"]
# The families the corruption figures draw: all analysed ones, or those the figure lists.
DRAWN_FAMILIES = (
    []
    if FIG_CORRUPTIONS is None
    else sorted(
        {p.family for p in ANALYSED if FIG_CORRUPTIONS["families"] == "all" or p.family in FIG_CORRUPTIONS["families"]},
        key=list(CORRUPTION_FAMILIES).index,
    )
)


def branch_files(kind, extension):
    """The files of every analysed corruption branch of the job's set (catalogue order)."""

    def files(wildcards):
        return [f"{RESULTS}/{kind}/{wildcards.hps}/{p.label}.{extension}" for p in ANALYSED]

    return files


def corruption_outputs():
    """What `all` asks of the corruption branches: each set's robustness tables, and its figures."""
    outputs = [
        f"{RESULTS}/robustness/{hps}/{name}.csv" for hps in CORRUPTION_SETS for name in ("errors", "ce", "localisation")
    ]
    if DRAWN_FAMILIES:
        outputs += [
            f"{RESULTS}/figures/corruptions/{hps}/{name}"
            for hps in CORRUPTION_SETS
            for name in ("heatmap.png", "heatmap.pdf", "curves.png", "curves.pdf", "curves.csv")
        ]
    return outputs


def corruption_report(path, caption, category, item, file_format=None):
    """A corruption output in the report: subcategory Corruption summaries, labelled by item and set."""
    labels = {"item": item, "set": "{hps}", **({"format": file_format} if file_format else {})}
    return _report_item(path, caption, category, "Corruption summaries", labels)


def fig4_corruptions_outputs():
    """Figure 4 per family of the corruption sweep it names (none when it is null)."""
    if FIG4_CORRUPTIONS is None:
        return []
    families = SWEEPS[FIG4_CORRUPTIONS["sweep"]]["corruptions"]
    return [f"{RESULTS}/figures/fig4_corruptions/{family}.{suffix}" for family in families for suffix in ("png", "pdf")]
