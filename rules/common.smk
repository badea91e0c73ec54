# Shared names: result paths, wildcard values and the helpers the rules use.

RESULTS = config["results"]
HPS_NAMES = list(config["hyperparameters"])
SIGMAS = {sigma_label(s): float(s) for s in config["noise"]["sigmas"]}


wildcard_constraints:
    hps="[A-Za-z0-9_-]+",
    sigma="[0-9.e+-]+",


def log_path(name):
    return f"{RESULTS}/logs/{name}.log"


def benchmark_path(name):
    return f"{RESULTS}/benchmarks/{name}.tsv"
