"""pcgc's batched corruption kernels against imagecorruptions 1.1.2 one image at a time, per family,
in one run, on the same photographs.

pcgc corrupts a batch of `--batch` images of `--size` x `--size` on `--device` (one call; draws on
the host, arithmetic on the device), after an untimed call on one image (frost resizes its
textures once per image size). imagecorruptions, which takes one uint8 image per call on the CPU,
is timed on `--reference-images` of them; its time per image is multiplied by the batch size (it
has no batch). The ratio is the reference's time for the batch over pcgc's.

    python benchmarks/corruption_speed.py --device cpu --batch 32 --severity 3
    python benchmarks/corruption_speed.py --device cuda --batch 128 --threads 16
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from reference_corruptions import load_reference, photographs, reference, to_pixels

from pcgc.compute.corruptions import corrupt
from pcgc.spec.corruptions import FAMILIES


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--severity", type=int, default=3)
    parser.add_argument("--reference-images", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch's CPU threads (the reference is single-threaded numpy)")
    parser.add_argument("--families", nargs="*", default=list(FAMILIES))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    module = load_reference()
    photos = photographs((args.size, args.size))
    images = np.stack([photos[k % len(photos)] for k in range(args.batch)])
    pixels = to_pixels(images).to(device)
    ids = [f"image-{k}" for k in range(args.batch)]
    print(f"{args.batch} images of {args.size} x {args.size}, severity {args.severity}, pcgc on {device} "
          f"({args.threads} torch threads), imagecorruptions per image on {args.reference_images} images, torch {torch.__version__}")
    print("| family | imagecorruptions, s per image | imagecorruptions, s per batch | pcgc, s per batch | ratio |")
    print("|---|---|---|---|---|")
    total_ref = total_ours = 0.0
    for family in args.families:
        corrupt(pixels[:1], family, args.severity, seed=0, image_ids=ids[:1])  # untimed: textures, caches
        synchronise(device)

        def ours() -> None:
            corrupt(pixels, family, args.severity, seed=0, image_ids=ids)
            synchronise(device)

        ours_s = seconds(ours)
        per_image = seconds(
            lambda: [reference(module, images[k], family, args.severity, seed=k) for k in range(args.reference_images)]
        ) / args.reference_images
        ref_s = per_image * args.batch
        total_ref, total_ours = total_ref + ref_s, total_ours + ours_s
        print(f"| {family} | {per_image:.4f} | {ref_s:.3f} | {ours_s:.3f} | {ref_s / ours_s:.1f}x |", flush=True)
    print(f"| all {len(args.families)} | | {total_ref:.2f} | {total_ours:.2f} | {total_ref / total_ours:.1f}x |")


if __name__ == "__main__":
    main()
