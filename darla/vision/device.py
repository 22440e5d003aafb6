"""Device selection: ``auto`` picks CUDA when present, so the same config runs on a laptop or a GPU."""

from __future__ import annotations

import torch

from darla.errors import DarlaError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> ``cuda`` if available else ``cpu``; otherwise the named device, checked."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise DarlaError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:<index>") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise DarlaError(f"device {device!r} requested but CUDA is not available: use auto or cpu")
    return resolved
