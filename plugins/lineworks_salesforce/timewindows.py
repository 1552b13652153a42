"""Time windows of log downloads (light: no pandas, imported by the LINE WORKS hook too)."""

from __future__ import annotations

from datetime import datetime, timedelta


def split_windows(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    """Split ``[start, end)`` into consecutive windows of at most ``size``."""
    if end <= start:
        raise ValueError(f"end ({end}) must be after start ({start})")
    windows, cursor = [], start
    while cursor < end:
        upper = min(cursor + size, end)
        windows.append((cursor, upper))
        cursor = upper
    return windows
