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


def log_path(name):
    return f"{RESULTS}/logs/{name}.log"


def benchmark_path(name):
    return f"{RESULTS}/benchmarks/{name}.tsv"
