"""Every default directory the embedded broker uses, in one place.

The single broker, the multi-node cluster and the jar cache each honour an environment
variable first (tests and scripts point them at temporary dirs), then the XDG base
directories, then ``~/.local/share`` and ``~/.cache``. Nothing here touches the disk,
so any module may ask where things live without importing the broker itself.
"""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value else Path.home() / fallback


def default_data_dir() -> Path:
    """The single broker's data dir: ``$DELIVERYTUI_BROKER_DIR``, else ``$XDG_DATA_HOME/deliverytui/broker``."""
    base = os.environ.get("DELIVERYTUI_BROKER_DIR")
    if base:
        return Path(base)
    return _xdg("XDG_DATA_HOME", ".local/share") / "deliverytui" / "broker"


def default_cluster_dir() -> Path:
    """``$DELIVERYTUI_CLUSTER_DIR``, else a ``cluster`` directory beside the single broker's data dir."""
    base = os.environ.get("DELIVERYTUI_CLUSTER_DIR")
    return Path(base) if base else default_data_dir().parent / "cluster"


def cache_root() -> Path:
    """Where the Kafka jars are cached: ``$DELIVERYTUI_CACHE_DIR``, else ``$XDG_CACHE_HOME/deliverytui``."""
    base = os.environ.get("DELIVERYTUI_CACHE_DIR")
    if base:
        return Path(base)
    return _xdg("XDG_CACHE_HOME", ".cache") / "deliverytui"
