rule iou:
    input:
        extraction=rules.extract.output[0],
        selection=rules.select_images.output.h5,
    output:
        f"{RESULTS}/iou/{{hps}}/sigma{{sigma}}.parquet",
    params:
        thresholds=config["iou"]["thresholds"],
        code=script_code("iou"),
    conda:
        CONDA_ENV
    log:
        log_path("iou/{hps}/sigma{sigma}"),
    benchmark:
        benchmark_path("iou/{hps}/sigma{sigma}")
    script:
        "../scripts/iou.py"


rule bootstrap:
    input:
        rules.iou.output[0],
    output:
        table_report(f"{RESULTS}/bootstrap/{{hps}}/sigma{{sigma}}.csv", "bootstrap"),
    params:
        bootstrap=config["bootstrap"],
        sigma=lambda wildcards: SIGMAS[wildcards.sigma],
        code=script_code("bootstrap"),
    conda:
        CONDA_ENV
    log:
        log_path("bootstrap/{hps}/sigma{sigma}"),
    benchmark:
        benchmark_path("bootstrap/{hps}/sigma{sigma}")
    script:
        "../scripts/bootstrap.py"
