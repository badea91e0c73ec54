# Shared names: result paths, wildcard values and the helpers the rules use.

RESULTS = config["results"]
HPS_NAMES = list(config["hyperparameters"])
# Every noise level in use (hyperparameter sets, sweeps, figure 1), by its file label.
SIGMAS = {sigma_label(s): s for s in all_sigmas(config)}


wildcard_constraints:
    # A named set, or `{set}@{condition}`: the set under a condition of the mechanism (rules/mechanism.smk).
    hps="[A-Za-z0-9_-]+(@[a-z_]+)?",
    sigma="[0-9.e+-]+",
    sweep="[A-Za-z0-9_-]+",
    chunk="[0-9a-f]{16}",


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


def sweep_folder(sweep, sigma):
    return f"{RESULTS}/sweeps/{sweep}/sigma{sigma}"


def sweep_plan(wildcards):
    try:
        return SWEEP_PLANS[(wildcards.sweep, wildcards.sigma)]
    except KeyError:
        raise WorkflowError(
            f"sweep {wildcards.sweep!r} has no noise level {wildcards.sigma} in this configuration"
        ) from None


def chunk_configurations(wildcards):
    plan = sweep_plan(wildcards)
    if wildcards.chunk not in plan:
        raise WorkflowError(
            f"chunk {wildcards.chunk} is not in the plan of sweep {wildcards.sweep} at sigma {wildcards.sigma}"
        )
    return [configuration.as_dict() for configuration in plan[wildcards.chunk]]


def chunk_job_size(wildcards):
    """The network work of one chunk: its configurations on the sweep's images."""
    images = count_images(SWEEPS[wildcards.sweep]["n_images"], config["selection"]["n_images"])
    return JobSize(images, STATES, len(sweep_plan(wildcards)[wildcards.chunk]))


def sweep_chunks(wildcards):
    folder = sweep_folder(wildcards.sweep, wildcards.sigma)
    return [f"{folder}/chunks/{name}.h5" for name in sweep_plan(wildcards)]


def sweep_outputs(name, filename):
    return [f"{sweep_folder(name, sigma_label(sigma))}/{filename}" for sigma in SWEEPS[name]["sigmas"]]


# Figures (rules/figures.smk).


def grid_axes(sweep):
    return {"betas": list(grid_values(SWEEPS[sweep]["beta"])), "lambdas": list(grid_values(SWEEPS[sweep]["lambda"]))}


# The mechanism (rules/mechanism.smk, docs/mechanism.md): conditions run as `{set}@{condition}`.

MECHANISM = config["mechanism"]
# The mechanism's extractions: Grad-CAM on the top layer, the map its figures and statistics use.
MECHANISM_CAM = {"methods": ["gradcam"], "layers": ["top"]}


def mechanism_conditions():
    return [] if MECHANISM is None else [TRAINED, *MECHANISM["controls"]]


def condition_name(condition):
    return f"{MECHANISM['hyperparameter_set']}@{condition}"


def set_and_condition(wildcards):
    """(set name, condition or None) of an extraction's `hps` wildcard; a condition must be one
    the mechanism section runs, at one of its noise levels."""
    name, _, condition = wildcards.hps.partition("@")
    if not condition:
        return name, None
    if MECHANISM is None or name != MECHANISM["hyperparameter_set"] or condition not in mechanism_conditions():
        raise WorkflowError(
            f"{wildcards.hps}: not a condition of the mechanism section "
            f"({[condition_name(c) for c in mechanism_conditions()] if MECHANISM else 'mechanism: null'})"
        )
    if SIGMAS.get(wildcards.sigma) not in MECHANISM["sigmas"]:
        raise WorkflowError(
            f"{wildcards.hps}: sigma {wildcards.sigma} is not one of mechanism.sigmas {MECHANISM['sigmas']}"
        )
    return name, condition


def extraction_hyperparameters(wildcards):
    return config["hyperparameters"][set_and_condition(wildcards)[0]]


def extraction_condition(wildcards):
    """What a condition's extraction runs beyond the set (None for a plain extraction)."""
    _, condition = set_and_condition(wildcards)
    if condition is None:
        return None
    return {
        "condition": condition,
        # Only the controls that draw from it: a new seed reruns nothing else.
        "seed": MECHANISM["seed"] if condition in ("random_feedback", "shuffled_feedback") else None,
        "shuffle_group": MECHANISM["shuffle_group"] if condition == "shuffled_feedback" else None,
        "recovery": MECHANISM["recovery"],
    }


def extraction_cam(wildcards):
    return config["cam"] if set_and_condition(wildcards)[1] is None else MECHANISM_CAM


def extraction_images(wildcards):
    """The images an extraction runs: all selected ones (None), or the mechanism's subset for a condition."""
    if set_and_condition(wildcards)[1] is None or MECHANISM["n_images"] == "all":
        return None
    return {"n_images": MECHANISM["n_images"], "seed": config["selection"]["seed"]}


def clean_inputs(wildcards):
    """A condition's extraction also reads the clean inputs (its representation recovery)."""
    if set_and_condition(wildcards)[1] is None:
        return {}
    return {"clean": f"{RESULTS}/inputs/sigma{sigma_label(0.0)}.h5"}


# The top layer's name in the score tables (Grad-CAM on `top` is stored under it).
MECHANISM_TOP = f"pcoder{NETWORKS[config['model']['spec']].num_pcoders}"


def mechanism_files(kind, extension):
    def files(wildcards):
        # In the order of mechanism_conditions() (the scripts pair them with params.conditions).
        return [
            f"{RESULTS}/{kind}/{condition_name(condition)}/sigma{wildcards.sigma}.{extension}"
            for condition in mechanism_conditions()
        ]

    return files


def mechanism_report(path, caption, category, item, file_format=None):
    """A mechanism output in the report: subcategory Mechanism, labelled by item and noise level."""
    labels = {"item": item, "sigma": "{sigma}", **({"format": file_format} if file_format else {})}
    return _report_item(path, caption, category, "Mechanism", labels)


def mechanism_sigma(wildcards):
    sigma = SIGMAS.get(wildcards.sigma)
    if sigma not in MECHANISM["sigmas"]:
        raise WorkflowError(f"sigma {wildcards.sigma} is not one of mechanism.sigmas {MECHANISM['sigmas']}")
    return sigma


def mechanism_outputs():
    """What `all` asks of the mechanism: its figures (and so every table) at each noise level."""
    if MECHANISM is None:
        return []
    return [
        f"{RESULTS}/figures/{name}/sigma{sigma_label(sigma)}.{suffix}"
        for name in ("mechanism", "controls")
        for sigma in MECHANISM["sigmas"]
        for suffix in ("png", "pdf")
    ]
