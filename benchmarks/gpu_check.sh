#!/usr/bin/env bash
# pcgc's GPU checks in one short run, for a GPU machine whose time is scarce (about 6 minutes on
# an H200): what the device is, the CUDA tests (the engine on CUDA against the CPU in each
# precision, the written-out adjoint, batch_size: auto), then the engine against the
# straightforward implementation in fp32, tf32 and bf16 with the fraction of the device's peak.
#
#   benchmarks/gpu_check.sh OUT_DIR [PEAK_FP32 PEAK_TF32 PEAK_BF16]
#
# The peaks (dense TFLOP/s) default to the H100/H200 SXM datasheet: 67, 495 and 990. Needs torch,
# h5py, tqdm and pytest, nothing of the workflow's (snakemake, jsonschema).
set -uo pipefail
out=${1:?usage: benchmarks/gpu_check.sh OUT_DIR [PEAK_FP32 PEAK_TF32 PEAK_BF16]}
peaks=("${2:-67}" "${3:-495}" "${4:-990}")
mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
python=${PYTHON:-python3}

{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    "$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
} 2>&1 | tee "$out/device.txt"

timeout 240 "$python" -m pytest -q -p no:cacheprovider \
    tests/test_cuda.py tests/test_batching.py tests/test_precision.py tests/test_predictors.py tests/test_engine.py \
    2>&1 | tee "$out/tests.txt"
tests=${PIPESTATUS[0]}

timeout 300 "$python" benchmarks/engine_speed.py --device cuda --precisions fp32 tf32 bf16 \
    --peak-tflops "${peaks[@]}" --batch 32 --repeats 3 --reference-configurations 2 \
    2>&1 | tee "$out/engine_speed.txt"
speed=${PIPESTATUS[0]}

echo "tests exit $tests, engine_speed exit $speed" | tee -a "$out/device.txt"
exit $(( tests || speed ))
