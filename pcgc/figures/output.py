"""Writing figures: PNG (at a fixed dpi) and PDF, each complete or absent, byte-stable across reruns."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Sequence

from matplotlib.figure import Figure

log = logging.getLogger(__name__)

PNG_DPI = 200
_FORMATS = {".png": "png", ".pdf": "pdf"}


def check_paths(out_paths: Sequence[Path]) -> list[Path]:
    """The output paths as Paths; each must end in .png or .pdf. Checked before any drawing."""
    paths = [Path(p) for p in out_paths]
    if not paths:
        raise ValueError("out_paths is empty: nowhere to write the figure")
    for path in paths:
        if path.suffix.lower() not in _FORMATS:
            raise ValueError(f"cannot infer figure format of {path}: suffix must be one of {sorted(_FORMATS)}")
    return paths


def save_figure(figure: Figure, out_paths: Sequence[Path]) -> None:
    """Save `figure` to every path, each written atomically in the format its suffix names."""
    for path in check_paths(out_paths):
        _save_one(figure, path)
        log.info("wrote %s", path)


def _save_one(figure: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp: its 0600 mode would survive os.replace; savefig creates the file under the umask.
    temp_name = path.parent / f".{path.stem}.{uuid.uuid4().hex}.tmp{path.suffix}"
    try:
        fmt = _FORMATS[path.suffix.lower()]
        # A fixed CreationDate keeps reruns byte-identical, so the workflow doesn't see spurious changes.
        metadata = {"CreationDate": None} if fmt == "pdf" else None
        figure.savefig(temp_name, format=fmt, dpi=PNG_DPI, metadata=metadata)
        os.replace(temp_name, path)
    except BaseException:
        temp_name.unlink(missing_ok=True)
        raise
