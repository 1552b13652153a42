"""Start ``make up``'s launcher (scripts/up.py) as a user would, on free ports and in a scratch folder."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY = "Ctrl-C or SIGTERM stops everything."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Up:
    process: subprocess.Popen
    log: Path
    home: Path
    marker: str  # an environment entry every child inherits (to find them all)
    lineworks_port: int
    airflow_url: str
    password: str = ""

    def printed(self) -> str:
        return self.log.read_text(errors="replace")


def start_up(folder: Path, timeout: float = 240) -> Up:
    """scripts/up.py running until READY is printed (AssertionError with its output otherwise)."""
    marker = f"LW_UP_TEST={uuid.uuid4().hex}"
    lw_port, af_port = free_port(), free_port()
    env = {
        **os.environ,
        marker.split("=")[0]: marker.split("=")[1],
        "AIRFLOW_HOME": str(folder / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__API__PORT": str(af_port),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{af_port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{af_port}/execution/",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "LINEWORKS_SANDBOX_PORT": str(lw_port),
        "LINEWORKS_SANDBOX_STATE_DIR": str(folder / "sandbox"),
        "LINEWORKS_STAGING_URL": f"file://{folder / 'staging'}",
        "SALESFORCE_SANDBOX_PORT": str(free_port()),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    }
    log = folder / "up.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "up.py")], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    up = Up(process, log, folder / "airflow", marker, lw_port, f"http://localhost:{af_port}")
    deadline = time.monotonic() + timeout
    while READY not in up.printed():
        assert process.poll() is None and time.monotonic() < deadline, up.printed()[-3000:]
        time.sleep(1)
    found = re.search(r"^Airflow login\s+user admin, password (\S+)$", up.printed(), re.M)
    up.password = found.group(1) if found else ""
    return up


def processes_with(marker: str) -> list[int]:
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
