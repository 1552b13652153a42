"""LINE WORKS side: scenario generation, seeding, friends listing and a 31-day Monitoring download.

Measures, on the ``bench`` scenario (1,000 members, ~10,000 friends, 1.8 M messages over 180 days):
messages generated per second; ``list_friends`` wall time and API calls; a 31-day message-contents
download through :class:`LineWorksHook` (bytes/s, rows/s) and the peak RSS growth of the client.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sandbox.credentials import ensure_credentials
from sandbox.lineworks import scenario
from sandbox.process import ROOT, SandboxProcess


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(messages: int = 1_800_000) -> dict:
    results: dict = {}
    sc = scenario.generate("bench", seed=42, messages=messages)
    started = time.perf_counter()
    count = sum(1 for _ in sc.messages())
    elapsed = time.perf_counter() - started
    results["generate"] = {
        "messages": count,
        "seconds": round(elapsed, 2),
        "messages_per_s": int(count / elapsed),
    }
    print(f"generate: {count:,} messages in {elapsed:.1f}s ({count / elapsed:,.0f}/s)", flush=True)

    state_dir = ROOT / ".sandbox" / "bench"
    creds = ensure_credentials(state_dir)
    with SandboxProcess(state_dir) as sandbox:
        sandbox.control.reset()
        started = time.perf_counter()
        spec = {
            "generator": {"size": "bench", "seed": 42, "overrides": {"messages": messages}},
            "apps": [creds.app_spec()],
            "bots": [creds.bot_spec()],
        }
        rows = sandbox.control.seed(spec)["rows"]
        elapsed = time.perf_counter() - started
        results["seed"] = {"rows": rows, "seconds": round(elapsed, 1)}
        print(
            f"seed: {rows['messages']:,} messages, {rows['contacts']:,} friends in {elapsed:.1f}s", flush=True
        )

        # Production rate limits apply (240/min), as for a real tenant.
        os.environ["AIRFLOW_CONN_LINEWORKS_DEFAULT"] = json.dumps(
            creds.connection(sandbox.url, sandbox.ca_bundle)
        )
        from hooks.lineworks import LineWorksHook

        hook = LineWorksHook()
        rss_before = _rss_mib()
        started = time.perf_counter()
        friends = sum(1 for _ in hook.list_friends())
        elapsed = time.perf_counter() - started
        calls = sandbox.control.stats()["calls"].get("contacts.list", 0)
        results["list_friends"] = {"friends": friends, "seconds": round(elapsed, 2), "api_calls": calls}
        print(f"list_friends: {friends:,} friends in {elapsed:.2f}s, {calls} API calls", flush=True)

        start = sc.start
        with tempfile.TemporaryDirectory() as tmp:
            dest = Path(tmp) / "talk.csv"
            started = time.perf_counter()
            result = hook.download_message_contents(start, start + timedelta(days=31), dest)
            elapsed = time.perf_counter() - started
            with open(dest, encoding="utf-8", newline="") as fh:
                n_rows = sum(1 for _ in csv.reader(fh)) - 1
        rss_growth = _rss_mib() - rss_before
        results["download_31_days"] = {
            "rows": n_rows,
            "bytes": result.bytes,
            "seconds": round(elapsed, 2),
            "rows_per_s": int(n_rows / elapsed),
            "mib_per_s": round(result.bytes / elapsed / 2**20, 1),
            "client_peak_rss_growth_mib": round(rss_growth, 1),
        }
        print(
            f"download 31 days: {n_rows:,} rows, {result.bytes / 2**20:.1f} MiB in {elapsed:.1f}s "
            f"({n_rows / elapsed:,.0f} rows/s); client peak RSS grew {rss_growth:.1f} MiB",
            flush=True,
        )
    return results
