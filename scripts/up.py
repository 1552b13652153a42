"""``make up``: the sandboxes plus Airflow (UI on http://localhost:8080) until Ctrl-C or SIGTERM.

The LINE WORKS sandbox runs on https://localhost:8443 with the demo company and the Salesforce sandbox on
https://localhost:8444 (``LINEWORKS_SANDBOX_PORT`` / ``SALESFORCE_SANDBOX_PORT`` move them), both with TLS
from the local CA in ``.sandbox/`` — the state folder the ``python -m sandbox`` commands use by default.
``lineworks_default`` (Domain ID included) and ``salesforce_default`` point at them through
``AIRFLOW_CONN_*`` (inherited by every Airflow process), so the DAGs run unchanged; the pools exist and
the archive is migrated before Airflow starts. Ctrl-C or SIGTERM stops Airflow's whole process group and
the sandboxes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from lineworks_salesforce.archive import Archive  # noqa: E402
from lineworks_salesforce.pools import create_pools  # noqa: E402
from sandbox.credentials import ensure_credentials, ensure_salesforce_credentials  # noqa: E402
from sandbox.process import SandboxProcess  # noqa: E402
from sandbox.seed import default_state_dir, remember_callback_url, seed_running  # noqa: E402

STATE_DIR = default_state_dir(ROOT)
SCENARIO = os.environ.get("LINEWORKS_SANDBOX_SCENARIO", str(ROOT / "sandbox" / "scenarios" / "demo.yaml"))
PORT = int(os.environ.get("LINEWORKS_SANDBOX_PORT", "8443"))
SALESFORCE_PORT = int(os.environ.get("SALESFORCE_SANDBOX_PORT", str(PORT + 1)))
AIRFLOW_PORT = int(os.environ.get("AIRFLOW__API__PORT", "8080"))


class Stop(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C (no ``except Exception`` swallows it), so every child is stopped
    on the way out."""


def _on_sigterm(signum, frame):  # noqa: ARG001 - the signal handler's signature
    raise Stop


def _stop(proc: subprocess.Popen) -> None:
    """Stop a process group: SIGTERM, then SIGKILL (standalone's scheduler may ignore SIGTERM). The group
    is signalled even when standalone itself already exited: its components share the group."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)  # anyone left in the group?
            except ProcessLookupError:
                return
            proc.poll()  # reap standalone itself
            time.sleep(0.2)


def main() -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow"))  # as the Makefile sets it
    creds = ensure_credentials(STATE_DIR)
    bin_dir = str(Path(sys.executable).parent)  # standalone starts its components as `airflow ...`
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        # the connection form's Test button (Airflow 3 disables it by default)
        "AIRFLOW__CORE__TEST_CONNECTION": os.environ.get("AIRFLOW__CORE__TEST_CONNECTION", "Enabled"),
    }
    try:
        with SandboxProcess(STATE_DIR, port=PORT, salesforce_port=SALESFORCE_PORT) as sandbox:
            return run_airflow(sandbox, creds, env)
    except (KeyboardInterrupt, Stop):
        return 0


def admin_password(home: Path) -> str:
    """The password of the UI's ``admin`` user, the same on every start: the simple auth manager's own
    password file, written here first (0600) when it does not exist yet, so it can be printed each time."""
    path = home / "simple_auth_manager_passwords.json.generated"
    if not path.exists():
        import secrets

        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"admin": secrets.token_urlsafe(12)}, fh)
    return json.loads(path.read_text())["admin"]


def run_airflow(sandbox: SandboxProcess, creds, env: dict[str, str]) -> int:
    url = sandbox.url
    # both sandboxes from one scenario; the bot's callbacks go to the plugin app on Airflow's API server
    remember_callback_url(STATE_DIR, f"http://localhost:{AIRFLOW_PORT}/lineworks/callback")
    domain_id = str(seed_running(STATE_DIR, SCENARIO)["domainId"])
    env["AIRFLOW_CONN_LINEWORKS_DEFAULT"] = json.dumps(
        creds.connection(url, sandbox.ca_bundle, domain_id=domain_id)
    )
    sf_creds = ensure_salesforce_credentials(STATE_DIR)
    env["AIRFLOW_CONN_SALESFORCE_DEFAULT"] = json.dumps(
        sf_creds.connection(sandbox.salesforce_url, sandbox.ca_bundle)
    )
    env.setdefault("LINEWORKS_STAGING_URL", "file://" + str(ROOT / ".staging"))
    airflow_bin = str(Path(sys.executable).parent / "airflow")
    migrated = subprocess.run([airflow_bin, "db", "migrate"], env=env, capture_output=True, text=True)
    if migrated.returncode != 0:
        print(migrated.stdout[-3000:] + migrated.stderr[-3000:], file=sys.stderr)
        return migrated.returncode
    create_pools(airflow_bin, env)
    home = Path(env["AIRFLOW_HOME"])
    Archive(f"sqlite:///{home / 'lineworks_archive.db'}").migrate()
    print(
        "\n".join(
            [
                f"LINE WORKS sandbox  {url}  (Domain ID {domain_id})",
                f"Talk as a rep       {url}/talk  (the bot's messages, taps, 友だちを追加)",
                f"Salesforce sandbox  {sandbox.salesforce_url}",
                f"CA bundle           {sandbox.ca_bundle}",
                f"Airflow UI          http://localhost:{AIRFLOW_PORT}",
                f"Airflow login       user admin, password {admin_password(home)}",
                "Your own tenant: .venv/bin/lineworks-salesforce sandbox seed FILE  (docs/sandbox.md)",
                "Ctrl-C or SIGTERM stops everything.",
            ]
        ),
        flush=True,
    )
    airflow = None
    try:
        airflow = subprocess.Popen([airflow_bin, "standalone"], cwd=ROOT, env=env, start_new_session=True)
        return airflow.wait()
    except (KeyboardInterrupt, Stop):
        return 0
    finally:
        if airflow is not None:
            _stop(airflow)


if __name__ == "__main__":
    sys.exit(main())
