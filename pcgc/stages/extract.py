"""Stage: run the dynamics on one input set (a noise level's or a corruption's) with one
hyperparameter set; CAMs at every timestep.

Output HDF5 (docs/outputs.md, "Extraction files"): per image and timestep the raw map of every requested
CAM method and layer (`cams/{method}/{layer}`), the target logit, the top-1 class, each PCoder's
prediction error and the relative change of the top representation, with attributes recording
everything the numbers depend on. The numbers come from `pcgc.compute.engine.Engine`, the same engine as the sweeps'.

A `condition` other than the real dynamics runs a control of `pcgc.spec.controls` (docs/mechanism.md)
through the same engine; `recovery` adds, per image, timestep and PCoder, the correlation distance
of the representation to the clean run's (`recovery/{reference}`), for which the clean inputs
(noise level 0) are read beside the perturbed ones. `extract_conditions` writes several conditions'
files in one job, computing each image batch's t = 0 once for all of them (`pcgc.compute.engine.Start`).
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import h5py
import numpy as np
import torch
from tqdm import tqdm

from pcgc.compute.batching import engine_probe, resolve_batch_size
from pcgc.compute.cam import CamRequest
from pcgc.compute.controls import Condition
from pcgc.compute.controls import condition as control_condition
from pcgc.compute.engine import Engine, Start
from pcgc.compute.recovery import RECOVERY_REFERENCES
from pcgc.spec.controls import TRAINED, batch_bounds, feedback_partners
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.provenance import sha256_file
from pcgc.spec.sweeps import image_subset
from pcgc.storage.h5io import STRING, atomic_h5, cam_dataset_name, open_h5, read_json_attr, write_json_attrs
from pcgc.storage.network_inputs import NetworkInputs, perturbation_attrs
from pcgc.storage.overlap import BackgroundWriter, HostCopy
from pcgc.storage.resume import BatchStore, batch_name, exclusive_writer

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
    _extract(
        network, [_Output(condition, hps_name, Path(out_h5))], hps=hps, timesteps=timesteps, batch_size=batch_size,
        cams=cams, config=config, overlap_writes=overlap_writes, control_seed=control_seed, shuffle_group=shuffle_group,
        recovery=recovery, clean_inputs_h5=clean_inputs_h5, images=images,
        batch_group=shuffle_group if condition == "shuffled_feedback" else None,
    )


def extract_conditions(
    network: NetworkInputs,
    *,
    hps_name: str,
    hps: HyperParameters,
    outputs: Mapping[str, Path],
    timesteps: int,
    batch_size: int | str,
    cams: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    overlap_writes: bool = True,
    control_seed: int = 0,
    shuffle_group: int | None = None,
    recovery: Sequence[str] = (),
    clean_inputs_h5: Path | None = None,
    images: ImageSubset | None = None,
) -> None:
    """`extract` under several conditions of the set `hps_name` in one job: `outputs` maps each
    condition to its file, recorded as the set `{hps_name}@{condition}`. Each file is the one
    `extract` writes for its condition alone (the same numbers, to the bit, on the same image
    batches), but every image batch's t = 0 feedforward pass, maps and logits, and the clean
    inputs' feedforward pass, are computed once for all conditions (`pcgc.compute.engine.Start`):
    the conditions share the backbone, and t = 0 does not depend on the coefficients or the
    feedback. Every condition's image batches are whole groups of `shuffle_group` images (given),
    the shuffled feedback's, whichever conditions run: so a condition's numbers do not depend on
    which others share its job."""
    if not outputs:
        raise ValueError("no conditions to extract")
    _extract(
        network, [_Output(condition, f"{hps_name}@{condition}", Path(path)) for condition, path in outputs.items()],
        hps=hps, timesteps=timesteps, batch_size=batch_size, cams=cams, config=config, overlap_writes=overlap_writes,
        control_seed=control_seed, shuffle_group=shuffle_group, recovery=recovery, clean_inputs_h5=clean_inputs_h5,
        images=images, batch_group=shuffle_group,
    )


@dataclass(frozen=True)
class _Output:
    """One extraction file of a job: the condition it runs and the set name it records."""

    condition: str
    hps_name: str
    path: Path


class _OutputFile:
    """An output being written: its datasets (the maps' created as the first batch arrives) and its kept batches."""

    def __init__(
        self, out: h5py.File, store: BatchStore, count: int, states: int, num_pcoders: int, request: CamRequest, recovery: Sequence[str]
    ) -> None:
        self.out, self.store, self.request = out, store, request
        self.count, self.states = count, states
        self.arrays = {
            "target_logit": out.create_dataset("target_logit", shape=(count, states), dtype="f4"),
            "top1": out.create_dataset("top1", shape=(count, states), dtype="i4"),
            "prediction_error": out.create_dataset("prediction_error", shape=(count, states, num_pcoders), dtype="f4"),
            "representation_change": out.create_dataset("representation_change", shape=(count, states), dtype="f4"),
            **{
                _recovery_key(reference): out.create_dataset(f"recovery/{reference}", shape=(count, states, num_pcoders), dtype="f4")
                for reference in recovery
            },
        }
        self.maps: dict[tuple[str, str], h5py.Dataset] = {}

    def write(self, start: int, stop: int, batch: HostCopy | dict[str, np.ndarray]) -> None:
        if isinstance(batch, HostCopy):  # computed now, not resumed: kept for a rerun first
            batch = batch.arrays()
            self.store.save(batch_name(start, stop), batch)
        for key in self.request.keys():
            data = batch[_batch_key(*key)]
            if key not in self.maps:
                shape = data.shape[2:]
                self.maps[key] = self.out.create_dataset(
                    cam_dataset_name(*key), shape=(self.count, self.states) + shape, dtype="f4", chunks=(1, self.states) + shape
                )
            self.maps[key][start:stop] = data
        for name, dataset in self.arrays.items():
            dataset[start:stop] = batch[name]


def _extract(
    network: NetworkInputs,
    outputs: Sequence[_Output],
    *,
    hps: HyperParameters,
    timesteps: int,
    batch_size: int | str,
    cams: Mapping[str, Any] | None,
    config: Mapping[str, Any] | None,
    overlap_writes: bool,
    control_seed: int,
    shuffle_group: int | None,
    recovery: Sequence[str],
    clean_inputs_h5: Path | None,
    images: ImageSubset | None,
    batch_group: int | None,
) -> None:
    """The extraction files of `outputs` (module docstring), image batches of whole `batch_group`s."""
    conditions = [output.condition for output in outputs]
    if len(set(conditions)) != len(conditions):
        raise ValueError(f"conditions {conditions}: each may be extracted once")
    for condition in conditions:
        _check_condition(condition, recovery, clean_inputs_h5, shuffle_group)
    targets, trained = network.load()
    # The configured set is recorded; each condition's coefficients (e.g. no feedback's) are run.
    runs = [control_condition(condition, trained, hps, seed=control_seed) for condition in conditions]
    net = trained.net
    if len(hps.beta) != net.num_pcoders:
        names = ", ".join(output.hps_name for output in outputs)
        raise ValueError(f"hyperparameters.{names}: {len(hps.beta)} values per coefficient, {network.spec} has {net.num_pcoders} PCoders")
    if cams is None:
        request = CamRequest.default(net.num_pcoders)
    else:
        request = CamRequest.from_config(dict(cams), net.num_pcoders, has_head_layer=net.head_layer is not None)
    torch_device = next(net.parameters()).device
    inputs_h5, selection_h5 = network.inputs_h5, network.selection_h5
    shuffled = any(run.shuffled_feedback for run in runs)

    with ExitStack() as writers:  # one job at a time writes each output and its batches
        for output in outputs:
            writers.enter_context(exclusive_writer(output.path))
        with ExitStack() as files:
            source = files.enter_context(open_h5(inputs_h5))
            clean_source = files.enter_context(_clean_source(clean_inputs_h5))
            targets.check_inputs(source, inputs_h5, selection_h5)
            if clean_source is not None:
                targets.check_inputs(clean_source, clean_inputs_h5, selection_h5)
                clean_noise = read_json_attr(clean_source, "noise", clean_inputs_h5)
                if float(clean_noise["sigma"]) != 0.0:
                    raise ValueError(f"{clean_inputs_h5}: the clean inputs of recovery must have sigma 0, got {clean_noise['sigma']}")
            rows = _Rows(source["inputs"].shape[0], images)
            count = rows.count
            states = timesteps + 1
            batch_size = resolve_batch_size(
                batch_size, torch_device, engine_probe(
                    runs[0].dynamics, torch.from_numpy(rows.read(source["inputs"], 0, 1)).to(torch_device),
                    torch.from_numpy(rows.read(targets.cam_target, 0, 1)).to(torch_device),
                    hps, timesteps=timesteps, diagnostics=True, precision=network.precision, cams=request,
                ), limit=count,
            )
            cam_target = rows.read(targets.cam_target)
            image_id = rows.read(targets.image_id).astype(object)
            partners = feedback_partners(count, shuffle_group, control_seed) if shuffled else None
            provenance = [network.provenance(run.dynamics) for run in runs]
            written = []
            for output, run, run_provenance in zip(outputs, runs, provenance):
                out = files.enter_context(atomic_h5(output.path))
                out.create_dataset("image_id", data=image_id, dtype=STRING)
                out.create_dataset("cam_target", data=cam_target)
                extra = _condition_attrs(output.condition, control_seed, shuffle_group, recovery)
                store = BatchStore(
                    output.path,
                    {
                        "hyperparameters": run.hyperparameters.as_dict(), "timesteps": timesteps, "batch_size": batch_size,
                        "cams": request.as_dict(), **run_provenance,
                        **({} if output.condition == TRAINED and not recovery else extra),
                        "inputs": sha256_file(inputs_h5), "selection": sha256_file(selection_h5), **rows.attrs(),
                    },
                )
                written.append(_OutputFile(out, store, count, states, net.num_pcoders, request, recovery))
            start_time = time.perf_counter()
            label = outputs[0].hps_name if len(outputs) == 1 else f"{len(outputs)} conditions"
            progress = tqdm(total=count, unit="img", desc=f"extract {label}", file=sys.stderr, dynamic_ncols=True)
            with BackgroundWriter(threaded=overlap_writes) as writer:
                # Shuffled feedback: batches of whole groups, so the permutation never depends on them.
                for start, stop in batch_bounds(count, batch_size, batch_group):
                    batches = [output.store.load(batch_name(start, stop)) for output in written]
                    missing = [k for k, batch in enumerate(batches) if batch is None]
                    if missing:
                        x = torch.from_numpy(rows.read(source["inputs"], start, stop)).to(torch_device)
                        clean = None
                        if clean_source is not None:
                            clean = torch.from_numpy(rows.read(clean_source["inputs"], start, stop)).to(torch_device)
                        cam_targets = torch.from_numpy(cam_target[start:stop]).to(torch_device)
                        partner = None if partners is None else torch.tensor(partners[start:stop], device=torch_device) - start
                        shared = None  # t = 0 without the predictors: the same under every condition
                        for k in missing:
                            # One configuration: a device batch is exactly this image batch, no padding.
                            engine = Engine(
                                runs[k].dynamics, batch_size=stop - start, diagnostics=True, precision=network.precision,
                                cams=request, recovery=recovery,
                            )
                            if shared is None:
                                shared = engine.start(x, cam_targets, clean)
                            batches[k] = _batch_arrays(engine, shared, runs[k], timesteps, partner)
                    for output, batch in zip(written, batches):
                        writer.submit(output.write, start, stop, batch)
                    progress.update(stop - start)
            progress.close()
            seconds = time.perf_counter() - start_time
            for output, run, run_provenance, file in zip(outputs, runs, provenance, written):
                attrs = {}
                if output.condition != TRAINED or recovery:
                    attrs = {
                        **_condition_attrs(output.condition, control_seed, shuffle_group, recovery),
                        "configured_hyperparameters": hps.as_dict(),
                    }
                write_json_attrs(
                    file.out,
                    {
                        "hyperparameter_set": output.hps_name,
                        "hyperparameters": run.hyperparameters.as_dict(),
                        **attrs,
                        "timesteps": timesteps,
                        "cams": request.as_dict(),
                        **rows.attrs(),
                        "cam_target": targets.selection["cam_target"],
                        **perturbation_attrs(source, inputs_h5),
                        "geometry": read_json_attr(source, "geometry", inputs_h5),
                        **run_provenance,
                        "config": dict(config or {}),
                    },
                )
                accuracy = (file.arrays["top1"][:] == cam_target[:, None]).mean(0)
                log.info("%s: top-1 by timestep: %s", output.hps_name, " ".join(f"{a:.3f}" for a in accuracy))
        for file in written:
            file.store.remove()
    log.info(
        "%d images x %d states x %d condition(s) in %.1f s (%.1f image-timesteps/s on %s)",
        count, states, len(outputs), seconds, count * states * len(outputs) / seconds, torch_device,
    )


def _batch_arrays(engine: Engine, start: Start, run: Condition, timesteps: int, partner: torch.Tensor | None) -> HostCopy:
    """One condition's arrays of an image batch, from the batch's shared t = 0 `start`."""
    (result,) = engine.run(
        start.x, start.targets, [run.hyperparameters], timesteps, clean=start.clean,
        feedback_partner=partner if run.shuffled_feedback else None, start=start,
    )
    return HostCopy(
        {name: getattr(result, name) for name in BATCH_ARRAYS}
        | {_batch_key(*key): raw for key, raw in result.cams.items()}
        | {_recovery_key(reference): d for reference, d in result.recovery.items()}
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
