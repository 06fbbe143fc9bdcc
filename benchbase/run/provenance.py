"""What produced a result: library versions, host and device."""

from __future__ import annotations

import importlib.metadata as md
import platform
import socket
from functools import cache

PACKAGES = ("benchbase", "torch", "torchvision", "timm", "scikit-learn", "numpy")


@cache
def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def host() -> dict[str, str]:
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
