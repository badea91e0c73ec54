"""pcgc: Grad-CAM of predictive-coding dynamics, scored against ImageNet-S masks."""

__version__ = "0.1.0"
