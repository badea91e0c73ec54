rule select_images:
    input:
        unpack(world_files),
    output:
        h5=f"{RESULTS}/selection/selection.h5",
        table=diagnostic_report(f"{RESULTS}/selection/selection.csv", "selection", "Images"),
    log:
        log_path("select_images"),
    benchmark:
        benchmark_path("select_images")
    conda:
        CONDA_ENV
    params:
        selection=config["selection"],
        world=WORLD,
        code=script_code("select_images"),
    script:
        "../scripts/select_images.py"
