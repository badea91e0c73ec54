"""Reading and writing the checkpoint files of a predictive-coding network.

The formats are Predify's: the backbone is a plain state dict of the classifier (torchvision's VGG16
file for PVGG16), and each PCoder's predictor is a plain state dict in its own file,
`<prefix>_pc{n}_pmodule.pth`. Files are read with `weights_only=True`, so a checkpoint that would run
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


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a plain state dict without executing pickled code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    with open(path, "rb") as handle:
        header = handle.read(len(_LEGACY_HEADER))
    if not (header.startswith(_ZIP_HEADER) or header == _LEGACY_HEADER):
        raise CheckpointError(f"{path}: {_NOT_A_CHECKPOINT}: it starts with neither torch.save format's header")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = _unpickler_reason(err)
        if "GLOBAL" in reason:
            raise CheckpointError(
                f"{path}: refused to load: it needs more than tensors to unpickle, so loading it could run code ({reason})"
            ) from err
        raise CheckpointError(f"{path}: {_NOT_A_CHECKPOINT} ({reason})") from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        first = str(err).split(". ")[0] or type(err).__name__
        raise CheckpointError(f"{path}: {_NOT_A_CHECKPOINT} ({first})") from err
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(f"{path}: expected a state dict (a mapping of names to tensors), got {type(state).__name__}")
    return dict(state)


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
