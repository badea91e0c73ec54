"""The names of the layers a CAM is taken on: `pcoder1` .. `pcoder{N}` (the representation of that
PCoder, bottom to top) and `top`, the top PCoder's (the paper's Grad-CAM layer). Torch-free: the
config checks and the CAM computation read layer names through this one parser."""

from __future__ import annotations

import re

TOP = "top"
_LAYER = re.compile(r"pcoder([1-9][0-9]*)")


def layer_name(index: int) -> str:
    """The name of PCoder `index`'s representation (0-based index): `pcoder{index + 1}`."""
    return f"pcoder{index + 1}"


def layer_index(name: str, num_pcoders: int) -> int:
    """0-based PCoder index of a layer name: `pcoder{n}` (1 <= n <= N) or `top` (PCoder N)."""
    if name == TOP:
        return num_pcoders - 1
    match = _LAYER.fullmatch(name)
    if match is None:
        raise ValueError(f"layer {name!r}: expected 'top' or 'pcoder<n>' with n in 1..{num_pcoders}")
    n = int(match.group(1))
    if n > num_pcoders:
        raise ValueError(f"layer {name!r}: the network has {num_pcoders} PCoders (pcoder1 .. pcoder{num_pcoders})")
    return n - 1
