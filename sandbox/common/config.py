"""Sandbox configuration changes (``PATCH /_sandbox/config``), the same for every sandbox."""

from __future__ import annotations

import copy
from typing import Any


def merge_config(
    defaults: dict[str, Any], current: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    """``current`` with ``changes`` applied (dict settings are merged key by key); unknown keys refused.

    :raises ValueError: naming the unknown keys and the known ones.
    """
    unknown = sorted(set(changes) - set(defaults))
    if unknown:
        raise ValueError(f"unknown config keys: {unknown}; known: {sorted(defaults)}")
    merged = copy.deepcopy(current)
    for key, value in changes.items():
        merged[key] = {**merged[key], **value} if isinstance(defaults[key], dict) else value
    return merged
