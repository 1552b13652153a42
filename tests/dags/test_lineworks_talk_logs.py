"""``lineworks_talk_logs`` run by Airflow itself (``airflow dags test``) against the LINE WORKS sandbox."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    """A migrated, throw-away Airflow home (SQLite) for real DAG runs."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    }
    done = subprocess.run(["airflow", "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return env


def test_should_stage_the_lookback_window_of_a_run(airflow_env, lineworks_sandbox, tmp_path):
    lineworks_sandbox.seed(size="demo", seed=42)  # messages 2026-11-20 09:00–11:00 JST
    env = {
        **airflow_env,
        "AIRFLOW_CONN_LINEWORKS_DEFAULT": json.dumps(lineworks_sandbox.connection()),
        "LINEWORKS_STAGING_URL": f"file://{tmp_path}",
    }
    # Data interval [00:50, 01:00) UTC; look-back 2 h → [23:00, 01:00) UTC = 08:00–10:00 JST.
    run = subprocess.run(
        ["airflow", "dags", "test", "lineworks_talk_logs", "2026-11-20T01:00:00+00:00"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    staged = tmp_path / "message-contents" / "20261120T010000.csv"
    with open(staged, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["日時", "送信者", "受信者", "チャンネルID", "トーク"]
    assert rows[1:] and all(r[0].startswith("2026-11-20T09:") for r in rows[1:])
    # Customers' words stay out of the task log.
    for row in rows[1:]:
        if len(row[4]) > 12:
            assert row[4] not in run.stdout + run.stderr
