#!/usr/bin/env bash
# pcgc's GPU checks in one short run, for a GPU machine whose time is scarce (at most 10 minutes):
# what the device is, the CUDA tests (the engine on CUDA against the CPU in each precision, the
# written-out adjoint, batch_size: auto, pinned copies and overlapped writes), then the engine
# against the straightforward implementation in fp32, tf32 and bf16 with the fraction of the
# device's peak, the same in channels_last (extraction.memory_format) for tf32 and bf16, and last
# the compiled timestep (extraction.compile): its tests, and its speed in bf16. Each step has its own time limit and output file, so a cut-off run still reports the
# steps before.
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

timeout 150 "$python" -m pytest -q -p no:cacheprovider -k "not compiled" \
    tests/test_cuda.py tests/test_batching.py tests/test_precision.py tests/test_predictors.py tests/test_engine.py \
    tests/test_overlap.py 2>&1 | tee "$out/tests.txt"
tests=${PIPESTATUS[0]}

timeout 180 "$python" benchmarks/engine_speed.py --device cuda --precisions fp32 tf32 bf16 \
    --peak-tflops "${peaks[@]}" --batch 32 --repeats 3 --reference-configurations 2 \
    2>&1 | tee "$out/engine_speed.txt"
speed=${PIPESTATUS[0]}

timeout 60 "$python" benchmarks/engine_speed.py --device cuda --precisions tf32 bf16 --peak-tflops "${peaks[1]}" "${peaks[2]}" \
    --batch 32 --repeats 3 --skip-sweep --channels-last 2>&1 | tee "$out/engine_speed_channels_last.txt"
channels_last=${PIPESTATUS[0]}

timeout 120 "$python" -m pytest -q -p no:cacheprovider -k "compiled" tests/test_cuda.py \
    2>&1 | tee "$out/compile_tests.txt"
compile_tests=${PIPESTATUS[0]}

timeout 90 "$python" benchmarks/engine_speed.py --device cuda --precisions bf16 --peak-tflops "${peaks[2]}" \
    --batch 32 --repeats 3 --skip-sweep --compile inductor-cudagraphs 2>&1 | tee "$out/engine_speed_compiled.txt"
compile_speed=${PIPESTATUS[0]}

echo "tests exit $tests, engine_speed exit $speed, channels_last exit $channels_last," \
    "compile tests exit $compile_tests, compiled speed exit $compile_speed" | tee -a "$out/device.txt"
exit $(( tests || speed || channels_last || compile_tests || compile_speed ))
