"""Stage: one chunk of a sweep, a list of configurations at one perturbation (a noise level, or a
corruption in its place), scored on the device.

A chunk's HDF5 (`sweeps/<sweep>/<perturbation>/chunks/<chunk>.h5`, the perturbation `sigma<s>` or
`corruptions/<family>/severity<n>`; C configurations, N images, T + 1 states, K scores):

| dataset | shape, dtype | meaning |
|---|---|---|
| `scores` | [C, N, T+1, K] float64 | each score of each map (attribute `scores` names them: metric, parameter); NaN where undefined |
| `correct` | [C, N, T+1] bool | top-1 class == Grad-CAM target |
| `target_logit` | [C, N, T+1] float32 | logit of the Grad-CAM target |
| `image_index`, `image_id` | [N] | the images (index into the selection) |
| `cam_raw`, `map_image_index` | [C, M, T+1, h, w] float16, [M] | raw maps of the images asked for (`store_maps`) |

The scores are computed on the device, where the maps are: the maps themselves are kept only where
asked for. Each device batch's rows are kept beside the output as they finish (`pcgc.storage.resume`), so
that a killed chunk's rerun computes only the batches it lacks and writes the same file.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch
from tqdm import tqdm

from pcgc.analysis.metrics import score_maps
from pcgc.compute.batching import engine_probe, resolve_batch_size
from pcgc.compute.engine import Engine, Trajectories
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.metrics import Score
from pcgc.spec.provenance import sha256_file
from pcgc.spec.sweeps import image_subset, manifest_text
from pcgc.storage.atomic import atomic_path
from pcgc.storage.h5io import (
    STRING,
    atomic_h5,
    open_h5,
    read_json_attr,
    require_datasets,
    string_array,
    write_json_attrs,
)
from pcgc.storage.network_inputs import NetworkInputs, Targets, perturbation_attrs
from pcgc.storage.resume import BatchStore, batch_name, sole_writer

log = logging.getLogger(__name__)


def map_images(store_maps: str | Sequence[str], image_ids: np.ndarray, where: str) -> np.ndarray:
    """Positions (in `image_ids`) of the images whose maps are kept: `none`, `all` or a list of ids."""
    if store_maps == "none":
        return np.zeros(0, dtype=np.int64)
    if store_maps == "all":
        return np.arange(len(image_ids))
    position = {image_id: k for k, image_id in enumerate(image_ids)}
    missing = [i for i in store_maps if i not in position]
    if missing:
        raise ValueError(f"{where}: image id(s) {missing} are not among this sweep's {len(image_ids)} images")
    return np.array(sorted(position[i] for i in store_maps), dtype=np.int64)


def block_arrays(
    block: Trajectories,
    start: int,
    masks: torch.Tensor,
    classes: torch.Tensor,
    cam_targets: torch.Tensor,
    scores: Sequence[Any],
    kept: np.ndarray,
) -> dict[str, np.ndarray]:
    """What one device batch contributes to the chunk, as arrays (rows: configuration x image, the
    image as its position among the sweep's images); the maps only of the images in `kept`."""
    values = score_maps(block.cam_raw, masks[block.image], classes[block.image], scores)
    image = block.image.cpu().numpy() + start
    keep = torch.from_numpy(np.isin(image, kept)).to(block.cam_raw.device)
    return {
        "configuration": block.configuration.cpu().numpy(),
        "image": image,
        "scores": values.permute(1, 2, 0).cpu().numpy(),
        "correct": (block.top1 == cam_targets[block.image, None]).cpu().numpy(),
        "target_logit": block.target_logit.cpu().numpy(),
        "maps": block.cam_raw[keep].cpu().numpy().astype(np.float16),
    }


@sole_writer("out_h5")  # one job at a time writes the output and its batches
def run_chunk(
    network: NetworkInputs,
    *,
    configurations: Sequence[HyperParameters],
    n_images: int | str,
    image_seed: int,
    timesteps: int,
    scores: Sequence[Score],
    store_maps: str | Sequence[str],
    batch_size: int | str,
    out_h5: Path,
    out_manifest: Path,
    config: Mapping[str, Any] | None = None,
) -> None:
    """Scores of every configuration on the sweep's images at every timestep -> `out_h5`, then the
    manifest `out_manifest` that lists the configurations (written last: the chunk is finished)."""
    selection_h5, inputs_h5 = network.selection_h5, network.inputs_h5
    targets = Targets.read(selection_h5)
    with open_h5(selection_h5) as selection:
        require_datasets(selection, ["mask_ids", "class_id"], selection_h5)
        images = image_subset(len(targets.image_id), n_images, image_seed)
        mask_ids = selection["mask_ids"][images].astype(np.int32)
        class_id = selection["class_id"][images]
    image_ids = targets.image_id[images]
    objectless = list(image_ids[~(mask_ids == class_id[:, None, None]).any(axis=(1, 2))])
    if objectless:
        raise ValueError(f"{selection_h5}: images {objectless} have no pixel of their class, so no IoU; rerun the selection")
    kept = map_images(store_maps, image_ids, f"store_maps of the sweep writing {out_h5}")
    pooled = [s for s in scores if not s.per_image]
    if pooled:
        raise ValueError(f"{out_h5}: sweeps score per-image metrics only; {pooled} are dataset-level")
    targets, dynamics = network.load()
    torch_device = next(dynamics.net.parameters()).device
    settings = [c for c in configurations]
    count, states, width = len(images), timesteps + 1, len(configurations)
    result_scores = np.full((width, count, states, len(scores)), np.nan)
    correct = np.zeros((width, count, states), dtype=bool)
    filled = np.zeros((width, count), dtype=bool)
    target_logit = np.zeros((width, count, states), dtype=np.float32)
    maps: np.ndarray | None = None
    started = time.perf_counter()
    with open_h5(inputs_h5) as source:
        targets.check_inputs(source, inputs_h5, selection_h5)
        perturbation = perturbation_attrs(source, inputs_h5)
        geometry = read_json_attr(source, "geometry", inputs_h5)
        batch_size = resolve_batch_size(
            batch_size, torch_device, engine_probe(
                dynamics, torch.from_numpy(source["inputs"][images[:1]]).to(torch_device),
                torch.from_numpy(targets.cam_target[images[:1]]).to(torch_device), settings[0],
                timesteps=timesteps, diagnostics=False, precision=network.precision,
            ), limit=count * width,
        )
        engine = Engine(dynamics, batch_size=batch_size, diagnostics=False, precision=network.precision)
        image_batch = min(batch_size, count)
        provenance = network.provenance(dynamics)
        # Each device batch's rows are kept as they finish, so that a killed chunk resumes from them.
        store = BatchStore(
            out_h5,
            {
                "configurations": [c.key for c in configurations], "images": images.tolist(), "timesteps": timesteps,
                "scores": [s.as_dict() for s in scores], "maps": kept.tolist(), "batch_size": batch_size, **provenance,
                "inputs": sha256_file(inputs_h5), "selection": sha256_file(selection_h5),
            },
        )
        progress = tqdm(total=count * width, unit="cfg-img", desc=out_h5.stem, file=sys.stderr, dynamic_ncols=True)
        for start in range(0, count, image_batch):
            stop = min(start + image_batch, count)
            blocks = engine.blocks(settings, stop - start)
            finished = {b: store.load(batch_name(start, stop, b)) for b in range(len(blocks))}
            missing = [b for b, arrays in finished.items() if arrays is None]
            computed: Iterator[dict[str, np.ndarray]] = iter(())
            if missing:
                x = torch.from_numpy(source["inputs"][images[start:stop]]).to(torch_device)
                cam_targets = torch.from_numpy(targets.cam_target[images[start:stop]]).to(torch_device)
                masks = torch.from_numpy(mask_ids[start:stop]).to(torch_device)
                classes = torch.from_numpy(class_id[start:stop]).to(torch_device)
                computed = (
                    block_arrays(block, start, masks, classes, cam_targets, scores, kept)
                    for block in engine.run(x, cam_targets, settings, timesteps, only=missing)
                )
            for b in missing:
                finished[b] = next(computed)
                store.save(batch_name(start, stop, b), finished[b])
            for b in range(len(blocks)):
                arrays = finished.pop(b)
                rows = arrays["configuration"], arrays["image"]
                result_scores[rows] = arrays["scores"]
                correct[rows] = arrays["correct"]
                target_logit[rows] = arrays["target_logit"]
                filled[rows] = True
                if len(arrays["maps"]):
                    if maps is None:
                        maps = np.zeros((width, len(kept), states) + arrays["maps"].shape[2:], dtype=np.float16)
                    keep = np.isin(rows[1], kept)
                    maps[rows[0][keep], np.searchsorted(kept, rows[1][keep])] = arrays["maps"]
                progress.update(len(rows[0]))
        progress.close()
    seconds = time.perf_counter() - started
    if not filled.all():
        c, i = np.argwhere(~filled)[0]
        raise RuntimeError(f"{out_h5}: the engine returned no maps for image {image_ids[i]} under {configurations[c].key}")
    undefined = int(np.isnan(result_scores).sum())
    if undefined:
        # A documented value (pcgc.analysis.metrics), kept: the summary leaves those images out and counts them.
        log.warning("%s: %d undefined (NaN) scores (docs/gradcam-and-scoring.md, 'Undefined values')", out_h5, undefined)
    with atomic_h5(out_h5) as out:
        out.create_dataset("scores", data=result_scores)
        out.create_dataset("correct", data=correct)
        out.create_dataset("target_logit", data=target_logit)
        out.create_dataset("image_index", data=images)
        out.create_dataset("image_id", data=string_array(image_ids), dtype=STRING)
        if maps is not None:
            out.create_dataset("cam_raw", data=maps)
            out.create_dataset("map_image_index", data=images[kept])
        write_json_attrs(
            out,
            {
                "configurations": [dict(c.as_dict(), key=c.key) for c in configurations],
                "scores": [s.as_dict() for s in scores],
                "timesteps": timesteps,
                "cam_target": targets.selection["cam_target"],
                **perturbation,
                "geometry": geometry,
                **provenance,
                "config": dict(config or {}),
            },
        )
    with atomic_path(out_manifest) as tmp:
        tmp.write_text(manifest_text(configurations))
    store.remove()
    log.info(
        "%d configurations x %d images x %d states in %.1f s (%.1f configuration-image-timesteps/s on %s)",
        width, count, states, seconds, width * count * states / seconds, torch_device,
    )
