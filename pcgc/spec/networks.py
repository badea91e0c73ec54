"""One record per network: everything pcgc knows about a network without building it (no torch).

A `NetworkRecord` is to pcgc what a `Weights` entry is to torchvision or a pretrained config to
timm: the builder module that makes the network, where its PCoders sit, the input it takes, each
weight file with its source and format, the hyperparameters its authors published, and what a
timestep costs. `NETWORKS` holds one record per network, and is the only list of networks: the
config checks, the rules, the fetch, the training, the job resources and the builders all read
it. Adding a network is one record here plus one builder module (docs/networks.md).

The Snakefile is parsed again by every cluster job, so this module stays light: it imports no torch
and nothing of pcgc outside `pcgc.spec`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from pcgc.spec.hyperparameters import HyperParameters

# torchvision's IMAGENET1K normalisation, which Predify's PVGG16 expects (and `mini` reuses).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Training's numbers depend on torch's thread count (a convolution's sums are split per thread), so
# the demo network is always trained with this many, whatever the machine or Snakemake's --cores:
# the demo's numbers are the same on 1, 2 or 4 cores.
TRAINING_THREADS = 2

# The paper's network: what `pcgc fetch-weights` fetches unless told otherwise, and the network
# whose published weights the config's `weights` section names when `model.spec` has none of its
# own (the demo's `mini`, whose weights are trained by the workflow).
PAPER_NETWORK = "pvgg16"

# The roles of a network's weight files, as the config's `weights` section names them.
WEIGHT_ROLES = ("backbone", "feedback_archive")

# The formats a weight file may have; pcgc.storage.fetch reads each of them.
WEIGHT_FORMATS: Mapping[str, str] = MappingProxyType({
    "state_dict": "a torch state dict of the backbone (torch.save of its state_dict()), keys as the builder's backbone has them",
    "predify_pmodule_zip": (
        "a zip archive with one file per PCoder, each a torch state dict of that PCoder's predictor (pmodule); "
        "a member is found by its file name, wherever it sits in the archive"
    ),
    "predify_pcoder_checkpoint_zip": (
        "a zip archive with one training checkpoint per PCoder, as Predify's training script saves them: a dict "
        "whose `pcoderweights` is the PCoder's state dict (the predictor's keys prefixed `pmodule.`); a member "
        "is found by the PCoder number in its file name (`pc<n>`, `pcoder<n>`), or named by `members`"
    ),
})

_HEX64 = re.compile(r"[0-9a-f]{64}")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_NAME = re.compile(r"[a-z][a-z0-9_]*")


def member_names(template: str, count: int) -> list[str]:
    """An archive's member for each of `count` PCoders: `template` with `{n}` replaced by 1..count."""
    return [template.replace("{n}", str(n)) for n in range(1, count + 1)]


def pmodule_filename(prefix: str, index: int) -> str:
    """`<prefix>_pc{index}_pmodule.pth`, Predify's naming (index is 1-based)."""
    return f"{prefix}_pc{index}_pmodule.pth"


@dataclass(frozen=True)
class PCoderSpec:
    """Where one PCoder is attached."""

    module: str
    """Dotted name of the backbone module whose output this PCoder replaces (e.g. `features.3`)."""
    has_feedback: bool
    """Whether it receives the prediction of the PCoder above (False for the top PCoder)."""


@dataclass(frozen=True)
class WeightFile:
    """One file of a network's weights: its name in the weights folder, its format, and where it is published."""

    file: str
    """Its name in the weights folder (an archive is downloaded under this name, then deleted once extracted)."""
    format: str
    """A key of WEIGHT_FORMATS."""
    url: str | None = None
    """Where it is published (http, https or file); None where the workflow makes the file itself."""
    sha256: str | None = None
    """Its sha256 (64 hex digits) where the publisher gives one. Without it a file is verified by a
    sha256 prefix in the URL's file name (torch.hub's `<name>-<hex digits>.pth`), or, for an
    archive, by loading every member into the network."""
    members: str | None = None
    """For an archive: its members' file names, `{n}` standing for the PCoder (1-based). None: the
    predictor files' own names (`<pmodule_prefix>_pc{n}_pmodule.pth`) for `predify_pmodule_zip`,
    the PCoder number in the file name for `predify_pcoder_checkpoint_zip`."""

    def __post_init__(self) -> None:
        if not self.file or "/" in self.file:
            raise ValueError(f"weight file name {self.file!r} must be a plain file name")
        if self.format not in WEIGHT_FORMATS:
            raise ValueError(f"{self.file}: unknown weight format {self.format!r}; known: {', '.join(WEIGHT_FORMATS)}")
        if self.url is not None and not re.match(r"(https?|file)://", self.url):
            raise ValueError(f"{self.file}: url {self.url!r} must start with http://, https:// or file://")
        if self.sha256 is not None and not _HEX64.fullmatch(self.sha256):
            raise ValueError(f"{self.file}: sha256 must be 64 lowercase hex digits, got {self.sha256!r}")
        if self.members is not None and (self.format == "state_dict" or "{n}" not in self.members):
            raise ValueError(f"{self.file}: members {self.members!r} needs an archive format and a {{n}} for the PCoder")

    def source(self) -> dict[str, str | None]:
        """The published source as the config's `weights` section writes one."""
        return {"url": self.url, "path": None, "sha256": self.sha256}


@dataclass(frozen=True)
class NetworkWeights:
    """A network's weight files, as the workflow stores them in its weights folder."""

    backbone: WeightFile
    """The backbone's state dict (format `state_dict`)."""
    pmodule_prefix: str
    """The predictors are stored as `<pmodule_prefix>_pc{n}_pmodule.pth`, one state dict per PCoder."""
    feedback_archive: WeightFile | None = None
    """The published archive the predictors come from; None where the workflow trains them."""

    def __post_init__(self) -> None:
        if self.backbone.format != "state_dict":
            raise ValueError(f"{self.backbone.file}: a backbone is a state_dict, not {self.backbone.format!r}")
        if self.feedback_archive is not None and self.feedback_archive.format == "state_dict":
            raise ValueError(f"{self.feedback_archive.file}: the feedback archive needs an archive format")

    def file(self, role: str) -> WeightFile | None:
        if role not in WEIGHT_ROLES:
            raise ValueError(f"unknown weight role {role!r}; known: {', '.join(WEIGHT_ROLES)}")
        return getattr(self, role)


@dataclass(frozen=True)
class NetworkRecord:
    """A network as pcgc knows it without building it."""

    name: str
    """Its name in NETWORKS and in the config's `model.spec`."""
    builder: str
    """Dotted name of the module that builds it: `build(num_classes)` returns a
    `pcgc.compute.networks.base.PredictiveCodingNetwork` with random weights."""
    pcoders: tuple[PCoderSpec, ...]
    """Where the PCoders sit, bottom to top."""
    input_size: int
    """The square input the network is built for (`selection.crop` must equal it where `fixed_input`)."""
    fixed_input: bool
    """Whether the network takes only `input_size` inputs (a configuration check)."""
    input_multiple: int
    """Other input sizes must be a multiple of this: each predictor's output must have the size of
    the representation below, so no downsampling may round (a configuration check)."""
    mean: tuple[float, ...]
    std: tuple[float, ...]
    """Per-channel normalisation of [0, 1] RGB pixels."""
    num_classes: int | None
    """Fixed by the published weights; None where the dataset decides."""
    weights: NetworkWeights
    hyperparameters: Mapping[str, HyperParameters] = field(hash=False)
    """Named beta/lambda/alpha sets as the network's authors published them."""
    gmacs_per_step: float
    """Multiply-accumulates (1e9) per image and timestep computing everything at every step, at
    `input_size`: an upper bound of what the engine does. `python benchmarks/costmodel.py <name>`
    counts it; a test holds the two within 1 %."""
    head_layer: str | None = None
    """Dotted name of the module whose output is the head's last convolutional activation, where the
    head has one (EfficientNet's `bn2`, after `conv_head`): the CAM layer `head`. None: the head
    has no convolution (VGG's), and the top PCoder's representation is the last convolutional one."""
    requires: tuple[str, ...] = ()
    """Python packages the builder imports beyond pcgc's own dependencies, each installed by the
    pcgc extra of the same name (`pip install 'pcgc[timm]'`); checked when the config is read."""

    def __post_init__(self) -> None:
        def wrong(message: str) -> ValueError:
            return ValueError(f"network record {self.name!r}: {message}")

        if not _NAME.fullmatch(self.name):
            raise wrong("a name is lowercase letters, digits and underscores, starting with a letter")
        if not _DOTTED.fullmatch(self.builder):
            raise wrong(f"builder {self.builder!r} is not a dotted module name")
        if not self.pcoders:
            raise wrong("no PCoders")
        if self.pcoders[-1].has_feedback:
            raise wrong("the top PCoder has nothing above it to feed back (has_feedback must be False)")
        if len({p.module for p in self.pcoders}) != len(self.pcoders):
            raise wrong("two PCoders sit on the same module")
        if self.input_size < 1 or self.input_multiple < 1 or self.input_size % self.input_multiple:
            raise wrong(f"input_size {self.input_size} must be a positive multiple of input_multiple {self.input_multiple}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise wrong("mean and std need three values (RGB), std positive")
        if self.num_classes is not None and self.num_classes < 2:
            raise wrong(f"num_classes {self.num_classes} must be at least 2")
        if self.weights.backbone.url is not None and self.num_classes is None:
            raise wrong("published weights fix the number of classes: give num_classes")
        for set_name, hps in self.hyperparameters.items():
            if hps.num_pcoders != self.num_pcoders:
                raise wrong(f"hyperparameters {set_name!r} have {hps.num_pcoders} values per coefficient, not {self.num_pcoders}")
        if not self.gmacs_per_step > 0:
            raise wrong(f"gmacs_per_step {self.gmacs_per_step} must be positive")
        if self.head_layer is not None and not _DOTTED.fullmatch(self.head_layer):
            raise wrong(f"head_layer {self.head_layer!r} is not a dotted module name")
        object.__setattr__(self, "hyperparameters", MappingProxyType(dict(self.hyperparameters)))

    @property
    def num_pcoders(self) -> int:
        return len(self.pcoders)

    @property
    def has_feedback(self) -> list[bool]:
        return [pcoder.has_feedback for pcoder in self.pcoders]

    @property
    def published(self) -> bool:
        """Whether every weight file has a published source (what `fetch_weights` can fetch)."""
        archive = self.weights.feedback_archive
        return self.weights.backbone.url is not None and archive is not None and archive.url is not None

    def backbone_file(self) -> str:
        return self.weights.backbone.file

    def pmodule_files(self) -> list[str]:
        """The predictors' file names in the weights folder, in PCoder order."""
        return [pmodule_filename(self.weights.pmodule_prefix, n) for n in range(1, self.num_pcoders + 1)]

    def archive_members(self) -> list[str] | None:
        """The predictors' file names inside the feedback archive, in PCoder order; None where the
        archive's format finds them by the PCoder number in their names."""
        archive = self.weights.feedback_archive
        if archive is not None and archive.members is not None:
            return member_names(archive.members, self.num_pcoders)
        if archive is not None and archive.format == "predify_pcoder_checkpoint_zip":
            return None
        return self.pmodule_files()


# --------------------------------------------------------------------------------------- records

# Predify's coefficients for PVGG16: the defaults of `PVGG16SeparateHP` in Predify's PVGG16 module
# (bhavinc/predify2021), whose ff_multiplier, fb_multiplier and er_multiplier are pcgc's beta,
# lambda and alpha of PCoders 1..5. The paper analyses them as its `hps_0`.
PREDIFY_PVGG16 = HyperParameters(
    beta=(0.20, 0.40, 0.40, 0.50, 0.60),
    lam=(0.05, 0.10, 0.10, 0.10, 0.00),
    alpha=(0.01, 0.01, 0.01, 0.01, 0.01),
)

PVGG16 = NetworkRecord(
    name="pvgg16",
    builder="pcgc.compute.networks.pvgg16",
    # torchvision's VGG16 with Predify's five PCoders at the last ReLU of each block.
    pcoders=(
        PCoderSpec("features.3", True),
        PCoderSpec("features.8", True),
        PCoderSpec("features.15", True),
        PCoderSpec("features.22", True),
        PCoderSpec("features.29", False),
    ),
    input_size=224,
    fixed_input=False,
    input_multiple=16,  # four 2 x 2 max-pools below the top PCoder
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    num_classes=1000,
    weights=NetworkWeights(
        # torchvision's VGG16_Weights.IMAGENET1K_V1 (a test checks the URL against the installed
        # torchvision). Its sha256 is not published in full; the file name carries its first 8 hex digits.
        backbone=WeightFile(
            file="vgg16_imagenet1k_v1.pth",
            format="state_dict",
            url="https://download.pytorch.org/models/vgg16-397923af.pth",
        ),
        pmodule_prefix="pvgg16_imagenet_pretrained",
        # Predify's trained predictors, linked from the README of bhavinc/predify2021 with `?dl=0`
        # (Dropbox's preview page); `?dl=1` asks for the file itself. No checksum is published:
        # each predictor is verified by loading it into PVGG16.
        feedback_archive=WeightFile(
            file="weights_pvgg16_imagenet.zip",
            format="predify_pmodule_zip",
            url="https://www.dropbox.com/s/8lzp6wfo6n3bymk/weights_pvgg16_imagenet.zip?dl=1",
        ),
    ),
    hyperparameters={"predify": PREDIFY_PVGG16},
    gmacs_per_step=137.46,
)

# Predify's coefficients for PEfficientNet-B0, two sets (bhavinc/predify2021): the one its
# experiments ran with (ffm 0.8, fbm 0.1, erm 0.01 on all eight PCoders), and the one `get_model`
# builds the network with (0.33, 0.33, 0.01). The top PCoder has nothing above it, so its lambda is
# not used (its memory weight is 1 - beta); it is kept as Predify wrote it.
PREDIFY_PEFFICIENTNET_B0 = HyperParameters.uniform(8, beta=0.8, lam=0.1, alpha=0.01)
PREDIFY_PEFFICIENTNET_B0_GET_MODEL = HyperParameters.uniform(8, beta=0.33, lam=0.33, alpha=0.01)

PEFFICIENTNET_B0 = NetworkRecord(
    name="pefficientnet_b0",
    builder="pcgc.compute.networks.pefficientnet_b0",
    # timm's efficientnet_b0 with Predify's eight PCoders: after the stem (Predify hooked `act1`;
    # since timm 0.9 `bn1` is a BatchNormAct2d whose output is that activation) and after each of
    # the seven stages of inverted-residual blocks.
    pcoders=(
        PCoderSpec("bn1", True),
        *(PCoderSpec(f"blocks.{k}", True) for k in range(6)),
        PCoderSpec("blocks.6", False),
    ),
    input_size=224,
    fixed_input=False,
    input_multiple=32,  # five stride-2 stages (the stem and blocks 1, 2, 3, 5)
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    num_classes=1000,
    weights=NetworkWeights(
        # The RandAugment weights Predify loaded (timm's `efficientnet_b0.ra_in1k`, 77.7 % top-1);
        # the file name carries the first 8 hex digits of its sha256, as torch.hub names files.
        backbone=WeightFile(
            file="efficientnet_b0_ra-3dd342df.pth",
            format="state_dict",
            url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/efficientnet_b0_ra-3dd342df.pth",
        ),
        pmodule_prefix="pefficientnet_b0_imagenet_pretrained",
        # Predify's trained predictors (linked from bhavinc/predify2021's README): one training
        # checkpoint per PCoder, under names the README does not give. No checksum is published.
        feedback_archive=WeightFile(
            file="weights_pefficientNetB0_imagenet.zip",
            format="predify_pcoder_checkpoint_zip",
            url="https://www.dropbox.com/s/0np1pzp3o3qhonv/weights_pefficientNetB0_imagenet.zip?dl=1",
        ),
    ),
    hyperparameters={"predify": PREDIFY_PEFFICIENTNET_B0, "predify_get_model": PREDIFY_PEFFICIENTNET_B0_GET_MODEL},
    gmacs_per_step=0.9786,
    head_layer="bn2",
    requires=("timm",),
)

MINI = NetworkRecord(
    name="mini",
    builder="pcgc.compute.networks.mini",
    # The demo world's narrow VGG: two conv+BN+ReLU triples per block, then a 2x2 max-pool; the
    # PCoders sit at the last ReLUs (5, 12, 19, 26, 33), where PVGG16's sit.
    pcoders=(
        PCoderSpec("features.5", True),
        PCoderSpec("features.12", True),
        PCoderSpec("features.19", True),
        PCoderSpec("features.26", True),
        PCoderSpec("features.33", False),
    ),
    input_size=96,
    fixed_input=True,
    input_multiple=16,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    num_classes=None,
    # Trained by the workflow (rule train_demo): nothing is published, nothing is fetched.
    weights=NetworkWeights(
        backbone=WeightFile(file="mini_backbone.pth", format="state_dict"),
        pmodule_prefix="mini_demo",
    ),
    # Nobody has published coefficients for `mini`: it reuses Predify's PVGG16 defaults, PCoder for PCoder.
    hyperparameters={"predify": PREDIFY_PVGG16},
    gmacs_per_step=0.1197,
)


def _registry(*records: NetworkRecord) -> dict[str, NetworkRecord]:
    names = [record.name for record in records]
    if len(set(names)) != len(names):
        raise ValueError(f"two network records share a name: {names}")
    return {record.name: record for record in records}


NETWORKS: dict[str, NetworkRecord] = _registry(PVGG16, PEFFICIENTNET_B0, MINI)


def network_record(name: str) -> NetworkRecord:
    """The record of the named network; a ValueError names the known ones."""
    try:
        return NETWORKS[name]
    except KeyError:
        raise ValueError(f"unknown network {name!r}; known networks: {', '.join(sorted(NETWORKS))}") from None


def fetched_network(spec: str) -> NetworkRecord:
    """The network whose published weights the config's `weights` section fetches: `spec` where
    its weights are published, else the paper's (a `mini` configuration runs the demo world, which
    fetches nothing)."""
    record = network_record(spec)
    return record if record.published else NETWORKS[PAPER_NETWORK]


__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "NETWORKS",
    "NetworkRecord",
    "NetworkWeights",
    "PAPER_NETWORK",
    "PCoderSpec",
    "TRAINING_THREADS",
    "WEIGHT_FORMATS",
    "WEIGHT_ROLES",
    "WeightFile",
    "fetched_network",
    "network_record",
    "pmodule_filename",
]
