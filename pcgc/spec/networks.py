"""What the workflow knows about each network spec without building it (and without importing torch).

The Snakefile is parsed again by every cluster job, so it must stay light: the rules, the config
checks, the fetch, training, the scripts and the network builders all read a spec's PCoder count,
PCoder placement, input size, normalisation, weight file names and cost from here, not from their
own copies.
"""

from __future__ import annotations

from dataclasses import dataclass

# torchvision's IMAGENET1K normalisation, which Predify's PVGG16 expects (and `mini` reuses).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Training's numbers depend on torch's thread count (a convolution's sums are split per thread), so
# the demo network is always trained with this many, whatever the machine or Snakemake's --cores:
# the README's demo numbers are the same on 1, 2 or 4 cores.
TRAINING_THREADS = 2


@dataclass(frozen=True)
class PCoderSpec:
    """One PCoder: where it is attached and how it behaves by default."""

    module: str
    """Dotted name of the backbone module whose output this PCoder replaces (e.g. `features.3`)."""
    has_feedback: bool
    """Whether it receives the prediction of the PCoder above (False for the top PCoder)."""
    beta: float
    lam: float
    alpha: float


def pmodule_filename(prefix: str, index: int) -> str:
    """`<prefix>_pc{index}_pmodule.pth`, Predify's naming (index is 1-based)."""
    return f"{prefix}_pc{index}_pmodule.pth"


@dataclass(frozen=True)
class WeightFiles:
    """The names of a spec's checkpoint files in its weights folder."""

    backbone: str
    pmodule_prefix: str
    archive: str | None = None
    """The published archive of the predictors (None: the weights are trained here)."""


@dataclass(frozen=True)
class ModelInfo:
    """A network spec as the workflow sees it."""

    name: str
    pcoders: tuple[PCoderSpec, ...]
    input_size: int
    """The crop the network is built for (`selection.crop` must equal it where `fixed_input`)."""
    fixed_input: bool
    """Whether the network takes only `input_size` inputs (a configuration check)."""
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int | None
    """Fixed by the published weights; None where the dataset decides."""
    weights: WeightFiles
    gmacs_per_step: float
    """Multiply-accumulates (1e9) per image and timestep computing everything at every step, at
    `input_size`: an upper bound of what the engine does (benchmarks.costmodel; a test ties the two)."""

    @property
    def num_pcoders(self) -> int:
        return len(self.pcoders)

    @property
    def has_feedback(self) -> list[bool]:
        return [pcoder.has_feedback for pcoder in self.pcoders]

    def backbone_file(self) -> str:
        return self.weights.backbone

    def pmodule_files(self) -> list[str]:
        """The predictors' file names, in PCoder order."""
        return [pmodule_filename(self.weights.pmodule_prefix, n) for n in range(1, self.num_pcoders + 1)]


MODELS: dict[str, ModelInfo] = {
    # torchvision's VGG16 with Predify's five PCoders at the last ReLU of each block; the default
    # coefficients are Predify's (the paper's hps_0).
    "pvgg16": ModelInfo(
        name="pvgg16",
        pcoders=(
            PCoderSpec("features.3", True, 0.20, 0.05, 0.01),
            PCoderSpec("features.8", True, 0.40, 0.10, 0.01),
            PCoderSpec("features.15", True, 0.40, 0.10, 0.01),
            PCoderSpec("features.22", True, 0.50, 0.10, 0.01),
            PCoderSpec("features.29", False, 0.60, 0.00, 0.01),
        ),
        input_size=224,
        fixed_input=False,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        num_classes=1000,
        weights=WeightFiles(
            backbone="vgg16_imagenet1k_v1.pth",
            pmodule_prefix="pvgg16_imagenet_pretrained",
            archive="weights_pvgg16_imagenet.zip",
        ),
        gmacs_per_step=137.46,
    ),
    # The demo world's narrow VGG: two conv+BN+ReLU triples per block, then a 2x2 max-pool; the
    # PCoders sit at the last ReLUs (5, 12, 19, 26, 33).
    "mini": ModelInfo(
        name="mini",
        pcoders=(
            PCoderSpec("features.5", True, 0.20, 0.05, 0.01),
            PCoderSpec("features.12", True, 0.40, 0.10, 0.01),
            PCoderSpec("features.19", True, 0.40, 0.10, 0.01),
            PCoderSpec("features.26", True, 0.50, 0.10, 0.01),
            PCoderSpec("features.33", False, 0.60, 0.00, 0.01),
        ),
        input_size=96,
        fixed_input=True,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        num_classes=None,
        weights=WeightFiles(backbone="mini_backbone.pth", pmodule_prefix="mini_demo"),
        gmacs_per_step=0.1197,
    ),
}


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "MODELS", "ModelInfo", "PCoderSpec", "TRAINING_THREADS", "WeightFiles", "pmodule_filename"]
