"""Training the demo world's network the way Predify trains PVGG16.

First the backbone is trained for classification (cross-entropy). Then, with the backbone frozen,
only the feedback predictors are trained: the loss is the sum over PCoders of the MSE between each
prediction and its target (the input image for PCoder 1, the representation below otherwise) at
t = 0. The files written are in the real PVGG16 formats, read by the same loader
(`pcgc.storage.checkpoints.load_network_weights`).
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from pcgc.compute.networks import PredictiveCodingNetwork, build_network
from pcgc.data.geometry import Geometry
from pcgc.spec.networks import TRAINING_THREADS
from pcgc.spec.provenance import versions
from pcgc.storage.checkpoints import save_network_weights

log = logging.getLogger(__name__)

# Training always runs TRAINING_THREADS torch threads (pcgc.spec.networks says why).


@dataclass(frozen=True)
class TrainingConfig:
    seed: int
    epochs: int
    batch_size: int
    learning_rate: float
    feedback_epochs: int
    feedback_learning_rate: float


def load_labelled_folder(folder: Path, wnids: Sequence[str], geometry: Geometry) -> tuple[torch.Tensor, torch.Tensor]:
    """Images under `folder/<wnid>/*.JPEG` as uint8 [M, S, S, 3] and their class indices [M]."""
    images, labels = [], []
    for index, wnid in enumerate(wnids):
        class_folder = folder / wnid
        if not class_folder.is_dir():
            raise FileNotFoundError(f"{class_folder}: missing class folder")
        paths = sorted(class_folder.glob("*.JPEG"))
        if not paths:
            raise FileNotFoundError(f"{class_folder}: no .JPEG images")
        for path in paths:
            with Image.open(path) as image:
                images.append(geometry.apply_image(image.convert("RGB")))
            labels.append(index)
    return torch.from_numpy(np.stack(images)), torch.tensor(labels)


def to_network_input(images: torch.Tensor, net: PredictiveCodingNetwork) -> torch.Tensor:
    """uint8 [M, S, S, 3] -> normalised float [M, 3, S, S], as torchvision's ToTensor + Normalize."""
    mean = torch.tensor(net.mean).view(1, 3, 1, 1)
    std = torch.tensor(net.std).view(1, 3, 1, 1)
    return (images.permute(0, 3, 1, 2).float() / 255 - mean) / std


def _batches(count: int, batch_size: int, generator: torch.Generator | None) -> list[torch.Tensor]:
    order = torch.randperm(count, generator=generator) if generator is not None else torch.arange(count)
    return list(order.split(batch_size))


@torch.no_grad()
def accuracy(net: PredictiveCodingNetwork, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int = 256) -> float:
    net.eval()
    correct = sum(
        int((net.backbone(inputs[i]).argmax(1) == labels[i]).sum()) for i in _batches(len(labels), batch_size, None)
    )
    return correct / len(labels)


def train_classifier(
    net: PredictiveCodingNetwork, inputs: torch.Tensor, labels: torch.Tensor, config: TrainingConfig
) -> list[float]:
    """Cross-entropy training of the backbone; returns the mean loss of each epoch."""
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(net.backbone.parameters(), lr=config.learning_rate)
    steps = config.epochs * math.ceil(len(labels) / config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.learning_rate, total_steps=steps)
    losses = []
    for epoch in range(config.epochs):
        net.backbone.train()
        total, seen, start = 0.0, 0, time.perf_counter()
        for batch in _batches(len(labels), config.batch_size, generator):
            x = inputs[batch]
            flip = torch.rand(len(batch), generator=generator) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
            loss = F.cross_entropy(net.backbone(x), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(batch)
            seen += len(batch)
        losses.append(total / seen)
        log.info("classifier epoch %d/%d: loss %.4f (%.1f s)", epoch + 1, config.epochs, losses[-1], time.perf_counter() - start)
    net.eval()
    return losses


def feedback_losses(net: PredictiveCodingNetwork, x: torch.Tensor) -> torch.Tensor:
    """[N] MSE of each PCoder's prediction against its target at t = 0, backbone frozen."""
    losses, below = [], x
    for stage, pmodule in zip(net.stages, net.pmodules):
        with torch.no_grad():
            rep = stage(below)
        losses.append(F.mse_loss(pmodule(rep), below))
        below = rep
    return torch.stack(losses)


def train_feedback(net: PredictiveCodingNetwork, inputs: torch.Tensor, config: TrainingConfig) -> list[list[float]]:
    """Train only the predictors on the summed reconstruction loss; returns per-epoch, per-PCoder MSE."""
    generator = torch.Generator().manual_seed(config.seed + 1)
    for p in net.backbone.parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.Adam(net.pmodules.parameters(), lr=config.feedback_learning_rate)
    history = []
    try:
        for epoch in range(config.feedback_epochs):
            totals, seen, start = torch.zeros(net.num_pcoders), 0, time.perf_counter()
            for batch in _batches(len(inputs), config.batch_size, generator):
                losses = feedback_losses(net, inputs[batch])
                optimizer.zero_grad()
                losses.sum().backward()
                optimizer.step()
                totals += losses.detach() * len(batch)
                seen += len(batch)
            history.append((totals / seen).tolist())
            log.info(
                "feedback epoch %d/%d: MSE per PCoder %s (%.1f s)",
                epoch + 1, config.feedback_epochs, " ".join(f"{v:.4f}" for v in history[-1]), time.perf_counter() - start,
            )
    finally:
        for p in net.backbone.parameters():
            p.requires_grad_(True)
    return history


def train_demo_network(
    world_root: Path,
    wnids: Sequence[str],
    geometry: Geometry,
    config: TrainingConfig,
    backbone_path: Path,
    pmodule_paths: Sequence[Path],
) -> dict:
    """Train `mini` on the world's `train/` images and evaluate on its held-out `validation/` images,
    with TRAINING_THREADS torch threads (the caller's count is restored afterwards)."""
    with _torch_threads(TRAINING_THREADS):
        return _train(world_root, wnids, geometry, config, backbone_path, pmodule_paths)


@contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train(world_root, wnids, geometry, config, backbone_path, pmodule_paths) -> dict:
    torch.manual_seed(config.seed)
    net = build_network("mini", len(wnids))
    if geometry.crop != net.input_size:
        raise ValueError(f"the mini network takes {net.input_size} x {net.input_size} inputs, not crop={geometry.crop}")
    train_images, train_labels = load_labelled_folder(world_root / "train", wnids, geometry)
    val_images, val_labels = load_labelled_folder(world_root / "validation", wnids, geometry)
    train_inputs, val_inputs = to_network_input(train_images, net), to_network_input(val_images, net)
    log.info("training mini on %d images, evaluating on %d held-out images", len(train_labels), len(val_labels))
    start = time.perf_counter()
    classifier_losses = train_classifier(net, train_inputs, train_labels, config)
    feedback_history = train_feedback(net, train_inputs, config)
    with torch.no_grad():
        held_out_feedback = torch.stack(
            [feedback_losses(net, val_inputs[b]) * len(b) for b in _batches(len(val_labels), 256, None)]
        ).sum(0) / len(val_labels)
    metrics = {
        "train_images": len(train_labels),
        "held_out_images": len(val_labels),
        "train_top1": accuracy(net, train_inputs, train_labels),
        "held_out_top1": accuracy(net, val_inputs, val_labels),
        "classifier_loss_per_epoch": classifier_losses,
        "feedback_mse_per_epoch": feedback_history,
        "held_out_feedback_mse": held_out_feedback.tolist(),
        "seconds": time.perf_counter() - start,
        "config": asdict(config),
        "torch_threads": torch.get_num_threads(),
        "versions": versions(),
    }
    log.info("held-out top-1 %.3f, train top-1 %.3f", metrics["held_out_top1"], metrics["train_top1"])
    save_network_weights(net, backbone_path, pmodule_paths)
    return metrics
