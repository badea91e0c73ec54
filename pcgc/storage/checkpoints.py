"""Reading and writing the checkpoint files of a predictive-coding network.

The formats are Predify's: the backbone is a plain state dict of the classifier (torchvision's VGG16
file for PVGG16, timm's EfficientNet-B0 file for PEfficientNet-B0), and each PCoder's predictor is a
plain state dict in its own file, `<prefix>_pc{n}_pmodule.pth` (where Predify published training
checkpoints instead, the fetch takes the predictor out of them: `read_pcoder_checkpoint`). Files are read with `weights_only=True`, so a checkpoint that would run
pickled code is refused rather than executed. Every failure names the file and what is wrong.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Mapping, Sequence

import torch
from torch import nn

from pcgc.compute.networks import PredictiveCodingNetwork
from pcgc.storage.atomic import atomic_path


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file and the reason."""


# torch.save's two formats: a zip archive, or (before PyTorch 1.6, e.g. torchvision's VGG16 file) a
# pickle that opens with the protocol-2 marker and torch's magic number.
_ZIP_HEADER = b"PK\x03\x04"
_LEGACY_HEADER = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
_NOT_A_CHECKPOINT = "not a valid or complete PyTorch checkpoint (truncated, corrupt, or another kind of file)"


def _unpickler_reason(err: Exception) -> str:
    """The reason in torch's weights-only refusal, without its advice to load with
    weights_only=False: the one thing a user should not do with a file that fails here."""
    sentences = " ".join(str(err).split()).replace(": ", ". ").split(". ")
    reason = [s for s in sentences if any(word in s for word in ("GLOBAL", "Unsupported", "blocked", "truncated"))]
    return ". ".join(reason) or type(err).__name__


def read_checkpoint(path: str | os.PathLike, label: str | None = None) -> object:
    """Load whatever a checkpoint file holds (tensors, and the dicts, lists and numbers around them)
    without executing pickled code. Errors name the file as `label` (default: its path)."""
    path = Path(path)
    name = label or str(path)
    if not path.is_file():
        raise CheckpointError(f"{name}: checkpoint file not found")
    with open(path, "rb") as handle:
        header = handle.read(len(_LEGACY_HEADER))
    if not (header.startswith(_ZIP_HEADER) or header == _LEGACY_HEADER):
        raise CheckpointError(f"{name}: {_NOT_A_CHECKPOINT}: it starts with neither torch.save format's header")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = _unpickler_reason(err)
        if "GLOBAL" in reason:
            raise CheckpointError(
                f"{name}: refused to load: it needs more than tensors to unpickle, so loading it could run code ({reason})"
            ) from err
        raise CheckpointError(f"{name}: {_NOT_A_CHECKPOINT} ({reason})") from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        first = str(err).split(". ")[0] or type(err).__name__
        raise CheckpointError(f"{name}: {_NOT_A_CHECKPOINT} ({first})") from err
    return state


def _as_state_dict(state: object, where: str) -> dict[str, torch.Tensor]:
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(f"{where}: expected a state dict (a mapping of names to tensors), got {type(state).__name__}")
    return dict(state)


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a plain state dict without executing pickled code."""
    return _as_state_dict(read_checkpoint(path), str(path))


# Predify's training checkpoints (model_factory/train_feedback_weights.py of bhavinc/predify2021):
# {"pcoderweights": the PCoder's state dict, "optimizer": ..., "epoch": ...}; a PCoder's only
# parameters are its predictor's, under `pmodule.`.
PCODER_WEIGHTS_KEY = "pcoderweights"
PMODULE_PREFIX = "pmodule."


def read_pcoder_checkpoint(path: str | os.PathLike, label: str | None = None) -> dict[str, torch.Tensor]:
    """The predictor's state dict in one of Predify's PCoder training checkpoints (keys without
    the `pmodule.` prefix), as Predify's `get_model` loads it. Errors name the file as `label`."""
    name = label or str(path)
    checkpoint = read_checkpoint(path, label)
    if not isinstance(checkpoint, Mapping) or PCODER_WEIGHTS_KEY not in checkpoint:
        keys = sorted(map(str, checkpoint)) if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
        raise CheckpointError(f"{name}: not a PCoder training checkpoint: no key {PCODER_WEIGHTS_KEY!r} (it holds {keys})")
    state = _as_state_dict(checkpoint[PCODER_WEIGHTS_KEY], f"{name}[{PCODER_WEIGHTS_KEY!r}]")
    stray = sorted(key for key in state if not key.startswith(PMODULE_PREFIX))
    if stray:
        raise CheckpointError(
            f"{name}[{PCODER_WEIGHTS_KEY!r}]: keys without the {PMODULE_PREFIX!r} prefix of the predictor: {stray}"
        )
    return {key.removeprefix(PMODULE_PREFIX): value for key, value in state.items()}


def load_state_into(module: nn.Module, state: Mapping[str, torch.Tensor], path: str | os.PathLike) -> None:
    """`module.load_state_dict(state)`, with a message naming the file, keys and shapes at fault."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: keys do not match {type(module).__name__}: "
            f"missing {missing or 'none'}, unexpected {unexpected or 'none'}"
        )
    wrong = [
        f"{key}: file {tuple(state[key].shape)} vs model {tuple(value.shape)}"
        for key, value in expected.items()
        if tuple(state[key].shape) != tuple(value.shape)
    ]
    if wrong:
        raise CheckpointError(f"{path}: tensor shapes do not match: " + "; ".join(wrong))
    module.load_state_dict(state)


def load_network_weights(
    net: PredictiveCodingNetwork, backbone_path: str | os.PathLike, pmodule_paths: Sequence[str | os.PathLike]
) -> None:
    """Load the backbone file and one predictor file per PCoder (in PCoder order) into `net`."""
    if len(pmodule_paths) != net.num_pcoders:
        raise CheckpointError(
            f"{net.name} has {net.num_pcoders} PCoders but {len(pmodule_paths)} predictor files were given"
        )
    load_state_into(net.backbone, read_state_dict(backbone_path), backbone_path)
    for pmodule, path in zip(net.pmodules, pmodule_paths):
        load_state_into(pmodule, read_state_dict(path), path)


def save_state_dict(state: Mapping[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Write a state dict atomically: a reader never sees a half-written file."""
    with atomic_path(path) as tmp:
        torch.save({k: v.detach().cpu().clone() for k, v in state.items()}, tmp)


def save_network_weights(
    net: PredictiveCodingNetwork, backbone_path: str | os.PathLike, pmodule_paths: Sequence[str | os.PathLike]
) -> None:
    """The inverse of `load_network_weights`, in the same file formats."""
    save_state_dict(net.backbone.state_dict(), backbone_path)
    for pmodule, path in zip(net.pmodules, pmodule_paths):
        save_state_dict(pmodule.state_dict(), path)
