"""``make up``: the sandboxes plus Airflow (UI on http://localhost:8080) until Ctrl-C.

The LINE WORKS sandbox runs on https://localhost:8443 with the demo company and the Salesforce sandbox
on https://localhost:8444; ``lineworks_default`` and ``salesforce_default`` point at them through
``AIRFLOW_CONN_*`` (inherited by every Airflow process), so the DAGs run unchanged.
``airflow standalone`` prints the admin password.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from sandbox.__main__ import scenario_spec  # noqa: E402
from sandbox.credentials import ensure_credentials, ensure_salesforce_credentials  # noqa: E402
from sandbox.process import SandboxProcess  # noqa: E402

STATE_DIR = ROOT / ".sandbox" / "up"
PORT = int(os.environ.get("LINEWORKS_SANDBOX_PORT", "8443"))


def _stop(proc: subprocess.Popen) -> None:
    """Stop a process group: SIGTERM, then SIGKILL (standalone's scheduler may ignore SIGTERM)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def main() -> int:
    creds = ensure_credentials(STATE_DIR)
    bin_dir = str(Path(sys.executable).parent)  # standalone starts its components as `airflow ...`
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
    }
    with SandboxProcess(STATE_DIR, port=PORT) as sandbox:
        return run_airflow(sandbox, creds, env)


def run_airflow(sandbox: SandboxProcess, creds, env: dict[str, str]) -> int:
    url, control = sandbox.url, sandbox.control
    control.reset()
    control.seed(scenario_spec("demo", 42, creds))
    env["AIRFLOW_CONN_LINEWORKS_DEFAULT"] = json.dumps(creds.connection(url, sandbox.ca_bundle))
    sf_creds = ensure_salesforce_credentials(STATE_DIR)
    sandbox.salesforce_control.reset()
    sandbox.salesforce_control.seed(sf_creds.seed_spec())
    env["AIRFLOW_CONN_SALESFORCE_DEFAULT"] = json.dumps(
        sf_creds.connection(sandbox.salesforce_url, sandbox.ca_bundle)
    )
    env["LINEWORKS_STAGING_URL"] = "file://" + str(ROOT / ".staging")
    print(
        f"LINE WORKS sandbox on {url}; starting Airflow on http://localhost:8080 (Ctrl-C stops both)",
        flush=True,
    )
    airflow = subprocess.Popen(
        [str(Path(sys.executable).parent / "airflow"), "standalone"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        return airflow.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(airflow)


if __name__ == "__main__":
    sys.exit(main())
