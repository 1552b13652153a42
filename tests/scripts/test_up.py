"""``make up``'s launcher (scripts/up.py): what it prints, and that SIGTERM leaves no child behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processes_with(marker: str) -> list[int]:
    """Pids of live processes whose environment holds ``marker`` (every child inherits it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.timeout(400)
def test_should_print_the_urls_and_stop_every_child_on_sigterm(tmp_path):
    marker = f"LW_UP_TEST={uuid.uuid4().hex}"
    lw_port, af_port = _free_port(), _free_port()
    env = {
        **os.environ,
        marker.split("=")[0]: marker.split("=")[1],
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__API__PORT": str(af_port),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{af_port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{af_port}/execution/",
        "LINEWORKS_SANDBOX_PORT": str(lw_port),
        "LINEWORKS_SANDBOX_STATE_DIR": str(tmp_path / "sandbox"),
        "LINEWORKS_STAGING_URL": f"file://{tmp_path / 'staging'}",
        "SALESFORCE_SANDBOX_PORT": str(_free_port()),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    }
    log = tmp_path / "up.log"
    with open(log, "w") as out:
        up = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "up.py")], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 240
        while "Ctrl-C or SIGTERM stops everything." not in log.read_text() and time.monotonic() < deadline:
            assert up.poll() is None, log.read_text()[-3000:]
            time.sleep(1)
        printed = log.read_text()
        assert f"LINE WORKS sandbox  https://localhost:{lw_port}  (Domain ID " in printed
        assert "Salesforce sandbox  https://localhost:" in printed
        assert "CA bundle           " in printed and f"http://localhost:{af_port}" in printed
        # let standalone start its scheduler, api-server, dag processor and triggerer
        deadline = time.monotonic() + 120
        while len(_processes_with(marker)) < 4 and time.monotonic() < deadline:
            time.sleep(1)
        time.sleep(5)
        children = _processes_with(marker)
        assert len(children) >= 4, log.read_text()[-3000:]
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=90) == 0
    finally:
        if up.poll() is None:
            up.kill()
    deadline = time.monotonic() + 30
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(1)
    left = _processes_with(marker)
    for pid in left:  # do not leave them to the next test, but fail
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not left, f"{len(left)} process(es) survived SIGTERM"
