FIG2 = config["figures"]["fig2"]


rule fig2:
    input:
        expand(RESULTS + "/bootstrap/{hps}/sigma{sigma}.csv", hps=FIG2["hyperparameter_sets"], sigma=sigma_label(FIG2["sigma"])),
    output:
        png=f"{RESULTS}/figures/fig2.png",
        pdf=f"{RESULTS}/figures/fig2.pdf",
    params:
        sets=FIG2["hyperparameter_sets"],
        sigma=FIG2["sigma"],
        threshold=FIG2["threshold"],
        error=FIG2["error"],
        code=code_fingerprint("pcgc.stages.figure2"),
    log:
        log_path("fig2"),
    benchmark:
        benchmark_path("fig2")
    script:
        "../scripts/fig2.py"
