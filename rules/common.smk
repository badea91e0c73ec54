# Shared names: result paths, wildcard values and the helpers the rules use.

RESULTS = config["results"]
HPS_NAMES = list(config["hyperparameters"])
# Every noise level in use (hyperparameter sets, sweeps, figure 1), by its file label.
SIGMAS = {sigma_label(s): s for s in all_sigmas(config)}


wildcard_constraints:
    hps="[A-Za-z0-9_-]+",
    sigma="[0-9.e+-]+",
    sweep="[A-Za-z0-9_-]+",
    chunk="[0-9a-f]{16}",

# The other network specs' modules, which no job of this configuration runs (see
# pcgc.provenance.unused_spec_modules).
UNUSED_SPEC_MODULES = unused_spec_modules(config["model"]["spec"], MODELS)


def script_code(script):
    """The fingerprint of the pcgc code that scripts/<script>.py imports: a rule's `code` param."""
    return script_fingerprint(Path(workflow.basedir) / "scripts" / f"{script}.py", exclude=UNUSED_SPEC_MODULES)


# What the jobs that run the network ask a scheduler for (pcgc.job_resources); resources are not
# params, so changing them (or the device) reruns nothing.
NETWORK_JOBS = NetworkJobs.from_config(config)
STATES = config["dynamics"]["timesteps"] + 1


def log_path(name):
    return f"{RESULTS}/logs/{name}.log"


def benchmark_path(name):
    return f"{RESULTS}/benchmarks/{name}.tsv"
