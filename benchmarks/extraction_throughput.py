"""Throughput of the extraction stage (dynamics + Grad-CAM at every timestep) on one device.

Runs `pcgc.stages.extract.extract` exactly as the workflow does, on synthetic inputs with random
(default-initialised) weights, and compares it with the plain feedforward backbone on the same
device in the same run:

    python benchmarks/extraction_throughput.py --spec pvgg16 --images 256 --timesteps 10 --device cuda

Prints image-timesteps per second, the ratio to feedforward images per second, and (on CUDA) the
peak GPU memory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

from pcgc.compute.networks import build_network
from pcgc.spec.networks import NETWORKS, pmodule_filename
from pcgc.stages.extract import extract
from pcgc.storage.checkpoints import save_network_weights
from pcgc.storage.h5io import STRING, write_json_attrs
from pcgc.storage.network_inputs import NetworkInputs, resolve_device


def synthetic_files(folder: Path, count: int, size: int, num_classes: int, seed: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    ids = np.asarray([f"synthetic_{i:06d}" for i in range(count)], dtype=object)
    selection, inputs = folder / "selection.h5", folder / "inputs.h5"
    with h5py.File(selection, "w") as h5:
        h5.create_dataset("image_id", data=ids, dtype=STRING)
        h5.create_dataset("cam_target", data=rng.integers(0, num_classes, count))
        write_json_attrs(h5, {"num_classifier_classes": num_classes, "selection": {"cam_target": "imagenet_s"}})
    with h5py.File(inputs, "w") as h5:
        h5.create_dataset("inputs", data=rng.standard_normal((count, 3, size, size), dtype=np.float32))
        h5.create_dataset("image_id", data=ids, dtype=STRING)
        write_json_attrs(h5, {"noise": {"sigma": 0.0}, "geometry": {"resize": size, "crop": size}})
    return selection, inputs


@torch.no_grad()
def feedforward_rate(net, device: torch.device, batch: int, size: int, repeats: int) -> float:
    x = torch.randn(batch, 3, size, size, device=device)
    net.backbone(x)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        net.backbone(x)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="pvgg16", choices=sorted(NETWORKS))
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--timesteps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    device = resolve_device(args.device)
    num_classes = NETWORKS[args.spec].num_classes or 6  # a fixed head, else the demo world's six classes
    torch.manual_seed(0)
    net = build_network(args.spec, num_classes)
    hps = NETWORKS[args.spec].hyperparameters["predify"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        backbone = folder / "backbone.pth"
        pmodules = [folder / pmodule_filename("bench", n) for n in range(1, net.num_pcoders + 1)]
        save_network_weights(net, backbone, pmodules)
        selection, inputs = synthetic_files(folder, args.images, net.input_size, num_classes, seed=0)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        extract(
            NetworkInputs(selection, inputs, backbone, tuple(pmodules), args.spec, False, "fp32", str(device)),
            hps_name="default", hps=hps, timesteps=args.timesteps, batch_size=args.batch_size, out_h5=folder / "out.h5",
        )
        seconds = time.perf_counter() - start
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    rate = args.images * (args.timesteps + 1) / seconds
    reference = feedforward_rate(net.to(device), device, args.batch_size, net.input_size, repeats=3)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}; spec {args.spec}, {args.images} images, T = {args.timesteps}, batch {args.batch_size}")
    print(f"extraction (dynamics + Grad-CAM, HDF5 included): {rate:.2f} image-timesteps/s ({seconds:.1f} s)")
    print(f"feedforward backbone (reference):               {reference:.2f} images/s")
    print(f"ratio extraction / feedforward:                 {rate / reference:.3f}")
    print(f"peak GPU memory: {peak:.2f} GiB" if device.type == "cuda" else "peak GPU memory: n/a (CPU)")


if __name__ == "__main__":
    main()
