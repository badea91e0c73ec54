"""The names of the layers a CAM is taken on. Torch-free: the config checks and the CAM computation
read layer names through this one parser.

- `pcoder1` .. `pcoder{N}`: the representation of that PCoder, bottom to top (0-based index n - 1).
- `top`: the top PCoder's, `pcoder{N}` (the paper's Grad-CAM layer).
- `head`: the head's last convolutional activation, for a network whose head has convolutions
  (EfficientNet's `conv_head` -> `bn2`; pcgc.spec.networks.NetworkRecord.head_layer). It lies
  above the top PCoder: index N.
"""

from __future__ import annotations

import re

TOP = "top"
HEAD = "head"
_LAYER = re.compile(r"pcoder([1-9][0-9]*)")


def layer_name(index: int, num_pcoders: int) -> str:
    """The name of layer `index` of a network with `num_pcoders` PCoders: `pcoder{index + 1}`, or
    `head` for index N."""
    if index == num_pcoders:
        return HEAD
    if not 0 <= index < num_pcoders:
        raise ValueError(f"layer index {index} is neither a PCoder (0..{num_pcoders - 1}) nor the head ({num_pcoders})")
    return f"pcoder{index + 1}"


def layer_index(name: str, num_pcoders: int, *, has_head_layer: bool = False) -> int:
    """The index of a layer name: `pcoder{n}` (1 <= n <= N) -> n - 1, `top` -> N - 1, and `head`
    -> N where the network's head has a convolutional layer."""
    if name == TOP:
        return num_pcoders - 1
    if name == HEAD:
        if not has_head_layer:
            raise ValueError(f"layer {name!r}: this network's head has no convolutional layer; its last one is the top PCoder's")
        return num_pcoders
    match = _LAYER.fullmatch(name)
    if match is None:
        head = ", 'head'" if has_head_layer else ""
        raise ValueError(f"layer {name!r}: expected 'top'{head} or 'pcoder<n>' with n in 1..{num_pcoders}")
    n = int(match.group(1))
    if n > num_pcoders:
        raise ValueError(f"layer {name!r}: the network has {num_pcoders} PCoders (pcoder1 .. pcoder{num_pcoders})")
    return n - 1
