"""Render throughput on a synthetic archive window (printed; bound generously, machines differ)."""

from __future__ import annotations

import time

from talkrender import CARD_NUMBER_PATTERN, RenderSettings, render_activities
from tests.plugins.talkrender.helpers import synthetic


def test_should_render_at_least_50000_rows_per_second(capsys):
    messages, links = synthetic(200_000, seed=2)
    rates = {}
    for name, patterns in (("no redaction", ()), ("card redaction", (CARD_NUMBER_PATTERN,))):
        settings = RenderSettings(domain_id="10000001", redact_patterns=patterns)
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            result = render_activities(messages, links, settings)
            best = min(best, time.perf_counter() - started)
        rates[name] = len(messages) / best
    with capsys.disabled():
        print(
            f"\ntalkrender: {len(messages):,} rows -> {len(result.records):,} records "
            f"({len(result.unlinked):,} rows unlinked): "
            + ", ".join(f"{name} {rate:,.0f} rows/s" for name, rate in rates.items())
        )
    assert min(rates.values()) >= 50_000
