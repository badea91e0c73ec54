"""Stage: run the dynamics on one input set (a noise level's or a corruption's) with one
hyperparameter set; CAMs at every timestep.

Output HDF5 (docs/outputs.md, "Extraction files"): per image and timestep the raw map of every requested
CAM method and layer (`cams/{method}/{layer}`), the target logit, the top-1 class, each PCoder's
prediction error and the relative change of the top representation, with attributes recording
everything the numbers depend on. The numbers come from `pcgc.compute.engine.Engine`, the same engine as the sweeps'.

A `condition` other than the real dynamics runs a control of `pcgc.spec.controls` (docs/mechanism.md)
through the same engine; `recovery` adds, per image, timestep and PCoder, the correlation distance
of the representation to the clean run's (`recovery/{reference}`), for which the clean inputs
(noise level 0) are read beside the perturbed ones.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import h5py
import numpy as np
import torch
from tqdm import tqdm

from pcgc.compute.batching import engine_probe, resolve_batch_size
from pcgc.compute.cam import CamRequest
from pcgc.compute.controls import condition as control_condition
from pcgc.compute.engine import Engine
from pcgc.compute.recovery import RECOVERY_REFERENCES
from pcgc.spec.controls import TRAINED, batch_bounds, feedback_partners
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.provenance import sha256_file
from pcgc.spec.sweeps import image_subset
from pcgc.storage.h5io import STRING, atomic_h5, cam_dataset_name, open_h5, read_json_attr, write_json_attrs
from pcgc.storage.network_inputs import NetworkInputs, perturbation_attrs
from pcgc.storage.overlap import BackgroundWriter, HostCopy
from pcgc.storage.resume import BatchStore, batch_name, sole_writer

log = logging.getLogger(__name__)

# What each image batch contributes to the file besides its maps; a killed job's finished batches
# are kept (pcgc.storage.resume) so that its rerun computes only the others.
BATCH_ARRAYS = ("target_logit", "top1", "prediction_error", "representation_change")


def _batch_key(method: str, layer: str) -> str:
    return f"cam.{method}.{layer}"


def _recovery_key(reference: str) -> str:
    return f"recovery.{reference}"


def _check_condition(condition: str, recovery: Sequence[str], clean_inputs_h5: Path | None, shuffle_group: int | None) -> None:
    """Stop before loading anything when the condition's or recovery's settings are missing or wrong."""
    unknown = [r for r in recovery if r not in RECOVERY_REFERENCES]
    if unknown:
        raise ValueError(f"mechanism.recovery: {unknown} are not among {list(RECOVERY_REFERENCES)}")
    if bool(recovery) != (clean_inputs_h5 is not None):
        raise ValueError(
            f"recovery {list(recovery)} needs the clean inputs, and clean inputs are read only for recovery "
            f"(clean_inputs_h5={clean_inputs_h5})"
        )
    if condition == "shuffled_feedback" and shuffle_group is None:
        raise ValueError("condition shuffled_feedback needs mechanism.shuffle_group")


@sole_writer("out_h5")  # one job at a time writes the output and its batches
def extract(
    network: NetworkInputs,
    *,
    hps_name: str,
    hps: HyperParameters,
    timesteps: int,
    batch_size: int | str,
    out_h5: Path,
    cams: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    overlap_writes: bool = True,
    condition: str = TRAINED,
    control_seed: int = 0,
    shuffle_group: int | None = None,
    recovery: Sequence[str] = (),
    clean_inputs_h5: Path | None = None,
    images: ImageSubset | None = None,
) -> None:
    """Write the extraction file `out_h5`. `cams` is the config's `cam: {methods, layers}` (default:
    Grad-CAM on the top representation); `config` (the workflow's resolved configuration) is
    stored with the file as provenance. A batch is written while the next is computed
    (`pcgc.storage.overlap`); `overlap_writes=False` writes each before computing the next.

    `condition` is `trained` (the real dynamics) or a control (`pcgc.spec.controls.CONTROLS`, with
    `control_seed`, and `shuffle_group` for shuffled feedback, whose image batches are whole
    groups); `recovery` (references of `pcgc.compute.recovery`) reads `clean_inputs_h5`.

    `images` runs a seeded subset of the selected images (`pcgc.spec.sweeps.image_subset`), in
    selection order; None runs them all."""
    _check_condition(condition, recovery, clean_inputs_h5, shuffle_group)
    targets, trained = network.load()
    run = control_condition(condition, trained, hps, seed=control_seed)
    # The configured set is recorded; the condition's coefficients (e.g. no feedback's) are run.
    configured, hps, dynamics = hps, run.hyperparameters, run.dynamics
    net = dynamics.net
    if len(hps.beta) != net.num_pcoders:
        raise ValueError(
            f"hyperparameters.{hps_name}: {len(hps.beta)} values per coefficient, {network.spec} has {net.num_pcoders} PCoders"
        )
    if cams is None:
        request = CamRequest.default(net.num_pcoders)
    else:
        request = CamRequest.from_config(dict(cams), net.num_pcoders, has_head_layer=net.head_layer is not None)
    torch_device = next(net.parameters()).device
    inputs_h5, selection_h5 = network.inputs_h5, network.selection_h5

    with open_h5(inputs_h5) as source, _clean_source(clean_inputs_h5) as clean_source, atomic_h5(out_h5) as out:
        targets.check_inputs(source, inputs_h5, selection_h5)
        if clean_source is not None:
            targets.check_inputs(clean_source, clean_inputs_h5, selection_h5)
            clean_noise = read_json_attr(clean_source, "noise", clean_inputs_h5)
            if float(clean_noise["sigma"]) != 0.0:
                raise ValueError(f"{clean_inputs_h5}: the clean inputs of recovery must have sigma 0, got {clean_noise['sigma']}")
        rows = _Rows(source["inputs"].shape[0], images)
        count = rows.count
        states = timesteps + 1
        num_pcoders = net.num_pcoders
        batch_size = resolve_batch_size(
            batch_size, torch_device, engine_probe(
                dynamics, torch.from_numpy(rows.read(source["inputs"], 0, 1)).to(torch_device),
                torch.from_numpy(rows.read(targets.cam_target, 0, 1)).to(torch_device),
                hps, timesteps=timesteps, diagnostics=True, precision=network.precision, cams=request,
            ), limit=count,
        )
        cam_target = rows.read(targets.cam_target)
        out.create_dataset("image_id", data=rows.read(targets.image_id).astype(object), dtype=STRING)
        out.create_dataset("cam_target", data=cam_target)
        target_logit = out.create_dataset("target_logit", shape=(count, states), dtype="f4")
        top1 = out.create_dataset("top1", shape=(count, states), dtype="i4")
        errors = out.create_dataset("prediction_error", shape=(count, states, num_pcoders), dtype="f4")
        change = out.create_dataset("representation_change", shape=(count, states), dtype="f4")
        distances = {
            reference: out.create_dataset(f"recovery/{reference}", shape=(count, states, num_pcoders), dtype="f4")
            for reference in recovery
        }
        shuffled = run.shuffled_feedback
        partners = feedback_partners(count, shuffle_group, control_seed) if shuffled else None
        maps: dict[tuple[str, str], h5py.Dataset] = {}
        start_time = time.perf_counter()
        progress = tqdm(total=count, unit="img", desc=f"extract {hps_name}", file=sys.stderr, dynamic_ncols=True)
        provenance = network.provenance(dynamics)
        store = BatchStore(
            out_h5,
            {
                "hyperparameters": hps.as_dict(), "timesteps": timesteps, "batch_size": batch_size,
                "cams": request.as_dict(), **provenance,
                **({} if condition == TRAINED and not recovery else _condition_attrs(condition, control_seed, shuffle_group, recovery)),
                "inputs": sha256_file(inputs_h5), "selection": sha256_file(selection_h5), **rows.attrs(),
            },
        )

        def write(start: int, stop: int, batch: HostCopy | dict[str, np.ndarray]) -> None:
            if isinstance(batch, HostCopy):  # computed now, not resumed: kept for a rerun first
                batch = batch.arrays()
                store.save(batch_name(start, stop), batch)
            for key in request.keys():
                data = batch[_batch_key(*key)]
                if key not in maps:
                    shape = data.shape[2:]
                    maps[key] = out.create_dataset(
                        cam_dataset_name(*key), shape=(count, states) + shape, dtype="f4", chunks=(1, states) + shape
                    )
                maps[key][start:stop] = data
            target_logit[start:stop] = batch["target_logit"]
            top1[start:stop] = batch["top1"]
            errors[start:stop] = batch["prediction_error"]
            change[start:stop] = batch["representation_change"]
            for reference, dataset in distances.items():
                dataset[start:stop] = batch[_recovery_key(reference)]

        with BackgroundWriter(threaded=overlap_writes) as writer:
            # Shuffled feedback: batches of whole groups, so the permutation never depends on them.
            for start, stop in batch_bounds(count, batch_size, shuffle_group if shuffled else None):
                batch = store.load(batch_name(start, stop))
                if batch is None:
                    x = torch.from_numpy(rows.read(source["inputs"], start, stop)).to(torch_device)
                    cam_targets = torch.from_numpy(cam_target[start:stop]).to(torch_device)
                    clean = None if clean_source is None else torch.from_numpy(rows.read(clean_source["inputs"], start, stop)).to(torch_device)
                    partner = None if partners is None else torch.tensor(partners[start:stop], device=torch_device) - start
                    # One configuration: a device batch is exactly this image batch, no padding.
                    engine = Engine(
                        dynamics, batch_size=stop - start, diagnostics=True, precision=network.precision, cams=request,
                        recovery=recovery,
                    )
                    (result,) = engine.run(x, cam_targets, [hps], timesteps, clean=clean, feedback_partner=partner)
                    batch = HostCopy(
                        {name: getattr(result, name) for name in BATCH_ARRAYS}
                        | {_batch_key(*key): raw for key, raw in result.cams.items()}
                        | {_recovery_key(reference): d for reference, d in result.recovery.items()}
                    )
                writer.submit(write, start, stop, batch)
                progress.update(stop - start)
        progress.close()
        seconds = time.perf_counter() - start_time
        accuracy = (top1[:] == cam_target[:, None]).mean(0)
        write_json_attrs(
            out,
            {
                "hyperparameter_set": hps_name,
                "hyperparameters": hps.as_dict(),
                **({} if condition == TRAINED and not recovery else {
                    **_condition_attrs(condition, control_seed, shuffle_group, recovery),
                    "configured_hyperparameters": configured.as_dict(),
                }),
                "timesteps": timesteps,
                "cams": request.as_dict(),
                **rows.attrs(),
                "cam_target": targets.selection["cam_target"],
                **perturbation_attrs(source, inputs_h5),
                "geometry": read_json_attr(source, "geometry", inputs_h5),
                **provenance,
                "config": dict(config or {}),
            },
        )
    store.remove()
    log.info(
        "%d images x %d states in %.1f s (%.1f image-timesteps/s on %s); top-1 by timestep: %s",
        count, states, seconds, count * states / seconds, torch_device, " ".join(f"{a:.3f}" for a in accuracy),
    )


@dataclass(frozen=True)
class ImageSubset:
    """A seeded random subset of the selected images (`pcgc.spec.sweeps.image_subset`)."""

    n_images: int | str
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return {"n_images": self.n_images, "seed": self.seed}


class _Rows:
    """The selection rows an extraction runs, by position: all of them, or a subset's (recorded
    as the attribute `images`; a run of all records nothing, as before subsets existed)."""

    def __init__(self, selected: int, images: ImageSubset | None):
        self.subset = images
        self.indices = None if images is None else image_subset(selected, images.n_images, images.seed)
        self.count = selected if self.indices is None else len(self.indices)

    def read(self, array: np.ndarray | h5py.Dataset, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows [start, stop) of the run (all of them without bounds) from a per-selection array."""
        stop = self.count if stop is None else stop
        if self.indices is None:
            return array[start:stop]
        return array[self.indices[start:stop]]  # sorted, as h5py's point selection needs

    def attrs(self) -> dict[str, Any]:
        return {} if self.subset is None else {"images": self.subset.as_dict()}


def _condition_attrs(condition: str, seed: int, group: int | None, recovery: Sequence[str]) -> dict[str, Any]:
    """What a control's or recovery's numbers depend on beyond a plain extraction."""
    return {"condition": condition, "control_seed": seed, "shuffle_group": group, "recovery": list(recovery)}


@contextmanager
def _clean_source(path: Path | None) -> Iterator[h5py.File | None]:
    if path is None:
        yield None
        return
    with open_h5(path) as source:
        yield source
