"""pcgc: Grad-CAM of predictive-coding dynamics, scored against ImageNet-S masks.

    world (demo data + trained weights, or ImageNet-S + fetched weights)
      -> select_images -> noisy_inputs (per sigma), corrupted_inputs (per ImageNet-C family x severity)
           -> extract (per hyperparameter set x sigma) -> score -> bootstrap -> fig2
                                                         -> diagnostics (with extract)
           -> extract (per corruptions.analysis set x family x severity) -> score -> bootstrap
                -> robustness (per set: top-1 error, CE, mCE; the bootstrap tables joined) -> fig_corruptions
           -> sweep_chunk (per sweep x sigma or corruption x chunk) -> sweep_merge -> sweep_summary
                -> fig3, fig4 (noise levels), fig4_corruptions (per family)
           -> fig1_cams -> fig1
           -> extract_conditions (mechanism: every {set}@{condition} in one job, t = 0 shared) -> score -> bootstrap
                -> mechanism_stats -> fig_mechanism

A branch's files are named by its perturbation: `sigma{s}` for a noise level,
`corruptions/{family}/severity{n}` for a corruption (pcgc.spec.perturbations).

Every stage's outputs depend only on its inputs and params; the params carry the config values the
stage reads and a fingerprint of the pcgc code behind it, so editing either reruns exactly the
stages it touches.
"""

import os
import sys

from snakemake.exceptions import WorkflowError

# The workflow's own pcgc, for this process and the jobs' scripts alike (set here, not read: no
# `envvars` to assert).
sys.path.insert(0, workflow.basedir)
os.environ.update(PYTHONPATH=os.pathsep.join(p for p in (workflow.basedir, os.environ.get("PYTHONPATH")) if p))

from pathlib import Path

from pcgc.spec.controls import TRAINED
from pcgc.spec.config import (
    ConfigError,
    all_sigmas,
    analysed_branches,
    apply_command_line,
    corruption_branches,
    mechanism_corruptions,
    normalize_paths,
    sigma_label,
    validate_config,
)
from pcgc.spec.corruptions import FAMILIES as CORRUPTION_FAMILIES
from pcgc.spec.perturbations import WILDCARD as PERTURBATION_WILDCARD, Perturbation
from pcgc.spec.job_resources import JobSize, NetworkJobs, count_images
from pcgc.spec.networks import NETWORKS, TRAINING_THREADS, fetched_network
from pcgc.spec.metrics import configured_scores
from pcgc.spec.provenance import script_fingerprint, unused_spec_modules
from pcgc.spec.stale_lock import record_run, release_if_stale, slurm_run_id
from pcgc.spec.sweeps import (
    existing_chunks,
    grid_values,
    plan_chunks,
    sweep_cells,
    sweep_perturbations,
    unique_configurations,
)

# A lock left by a run killed with SIGKILL goes once nothing that run started can still write, its
# local jobs and its cluster jobs alike (pcgc.spec.stale_lock), so that a plain rerun resumes instead of
# stopping with "Directory cannot be locked". Only the main process decides: a job (Snakemake run by
# an executor, with --nolock) never touches the lock.
if workflow.is_main_process:
    _lock_note = release_if_stale(".snakemake")
    if _lock_note:
        print(f"pcgc: {_lock_note}", file=sys.stderr)


configfile: "config.yaml"


report: "report/workflow.rst"


try:
    # --config values typed as in a config file; every path in one spelling (see pcgc.spec.config).
    config.update(
        normalize_paths(validate_config(apply_command_line(config, workflow.config_settings.config)), os.getcwd())
    )
except ConfigError as error:
    raise WorkflowError(str(error)) from None


onstart:
    record_run(
        ".snakemake",
        executor=workflow.executor_plugin.name,
        cluster=not workflow.local_exec,
        run_id=slurm_run_id(workflow),
    )


include: "rules/common.smk"
include: "rules/report.smk"
include: "rules/world.smk"
include: "rules/select.smk"
include: "rules/inputs.smk"
include: "rules/extract.smk"
include: "rules/score.smk"
include: "rules/sweeps.smk"
include: "rules/figures.smk"
include: "rules/diagnostics.smk"
include: "rules/mechanism.smk"
include: "rules/corruptions.smk"


# Every rule's code fingerprint is that of the script it runs: a rule whose `code` param names
# another script would miss edits to what its own script imports. And every rule keeps a log and a
# benchmark under the results folder (docs/outputs.md, "Logs and benchmarks").
for _rule in workflow.rules:
    if _rule.script is not None and _rule.params.get("code") != script_code(Path(_rule.script).stem):
        raise WorkflowError(
            f"rule {_rule.name}: params.code must be script_code({Path(_rule.script).stem!r}), the fingerprint of its script"
        )
    if not (list(_rule.log) and _rule.benchmark is not None):
        raise WorkflowError(f"rule {_rule.name}: every rule needs a log (log_path) and a benchmark (benchmark_path)")


rule all:
    default_target: True
    input:
        expand(
            f"{RESULTS}/bootstrap/{{hps}}/sigma{{sigma}}.csv",
            hps=HPS_NAMES,
            sigma=map(sigma_label, config["noise"]["sigmas"]),
        ),
        rules.fig2.output,
        [
            f"{RESULTS}/inputs/corruptions/{family}/severity{severity}.h5"
            for family, severity in corruption_branches(config)
        ],
        corruption_outputs(),
        [sweep_outputs(name, "summary.csv") for name in SWEEPS],
        [sweep_outputs(name, "maps.h5") for name, sweep in SWEEPS.items() if sweep["store_maps"] != "none"],
        [
            f"{RESULTS}/figures/{name}.{suffix}"
            for name in ("fig1", "fig3", "fig4")
            if FIGURES[name] is not None
            for suffix in ("png", "pdf")
        ],
        fig4_corruptions_outputs(),
        [
            f"{RESULTS}/figures/diagnostics/{hps}/sigma{sigma_label(sigma)}.{suffix}"
            for hps in HPS_NAMES
            for sigma in config["noise"]["sigmas"]
            for suffix in ("png", "pdf")
            if DIAGNOSTICS is not None
        ],
        mechanism_outputs(),
