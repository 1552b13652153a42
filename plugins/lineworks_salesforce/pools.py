"""The Airflow pools the DAGs use (names and sizes; light, imported at DAG parse time).

- ``lineworks_monitoring``, **1 slot**: every Monitoring API download of both DAGs (``lineworks_talk_logs``'
  extract, ``lineworks_history_import``'s import), so a history import and the schedule never download at
  once (the API allows one download at a time per tenant and 10 requests a minute).
- ``lineworks_salesforce``, 2 slots: the build and load tasks of both DAGs (Salesforce API calls).

``make demo`` and ``make up`` create them; in a real deployment create them once::

    airflow pools set lineworks_monitoring 1 "LINE WORKS Monitoring downloads (one at a time)"
    airflow pools set lineworks_salesforce 2 "lineworks-salesforce: Salesforce loads"

``LINEWORKS_MONITORING_POOL`` / ``LINEWORKS_SALESFORCE_POOL`` name other pools instead.
"""

from __future__ import annotations

import os

MONITORING_POOL = os.environ.get("LINEWORKS_MONITORING_POOL", "lineworks_monitoring")
SALESFORCE_POOL = os.environ.get("LINEWORKS_SALESFORCE_POOL", "lineworks_salesforce")
# name -> (slots, description) of the pools make demo / make up create
POOLS = {
    "lineworks_monitoring": (1, "LINE WORKS Monitoring downloads (one at a time)"),
    "lineworks_salesforce": (2, "lineworks-salesforce: Salesforce loads"),
}


def create_pools(airflow: str, env: dict[str, str] | None = None) -> None:
    """Create (or resize) :data:`POOLS` with the ``airflow`` command at ``airflow`` (make demo/up, tests)."""
    import subprocess

    for name, (slots, description) in POOLS.items():
        done = subprocess.run(
            [airflow, "pools", "set", name, str(slots), description],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"airflow pools set {name} failed: {done.stderr.strip()[-500:]}")
