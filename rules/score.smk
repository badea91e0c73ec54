# What scoring reads of the config: the metrics and their parameters (the sweeps' own choice of
# metrics is theirs alone, so it reruns no extraction scoring).
SCORES = {key: value for key, value in config["scores"].items() if key != "sweep_metrics"}


rule score:
    input:
        extraction=rules.extract.output[0],
        selection=rules.select_images.output.h5,
    output:
        f"{RESULTS}/scores/{{hps}}/{{perturbation}}.parquet",
    log:
        log_path("scores/{hps}/{perturbation}"),
    benchmark:
        benchmark_path("scores/{hps}/{perturbation}")
    conda:
        CONDA_ENV
    params:
        scores=SCORES,
        perturbation=perturbation_columns,
        code=script_code("score"),
    script:
        "../scripts/score.py"


rule bootstrap:
    input:
        rules.score.output[0],
    output:
        table_report(f"{RESULTS}/bootstrap/{{hps}}/{{perturbation}}.csv", "bootstrap"),
    log:
        log_path("bootstrap/{hps}/{perturbation}"),
    benchmark:
        benchmark_path("bootstrap/{hps}/{perturbation}")
    conda:
        CONDA_ENV
    params:
        bootstrap=config["bootstrap"],
        perturbation=perturbation_columns,
        code=script_code("bootstrap"),
    script:
        "../scripts/bootstrap.py"
