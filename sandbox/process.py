"""Run ``python -m sandbox serve`` in its own process (demo, ``make up``, benchmarks)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from sandbox.common.tls import ensure_tls
from sandbox.control_client import SandboxControl

ROOT = Path(__file__).resolve().parents[1]


class SandboxProcess:
    """``python -m sandbox serve`` on a free port; a context manager that always stops it."""

    def __init__(self, state_dir: Path, port: int | None = None, salesforce_port: int | None = None) -> None:
        self.state_dir = state_dir
        self.ca_bundle = str(ensure_tls(state_dir).ca_cert)
        self.port = port or _free_port()
        self.salesforce_port = salesforce_port or _free_port()
        self.salesforce_url = f"https://localhost:{self.salesforce_port}"
        self.salesforce_control = SandboxControl(self.salesforce_url, self.ca_bundle)
        self.url = f"https://localhost:{self.port}"
        self.control = SandboxControl(self.url, self.ca_bundle)
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> SandboxProcess:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])}
        cmd = [
            sys.executable,
            "-m",
            "sandbox",
            "--state-dir",
            str(self.state_dir),
            "serve",
            "--port",
            str(self.port),
            "--salesforce-port",
            str(self.salesforce_port),
        ]
        # Own session, so that stopping it never signals the caller's process group.
        (Path(self.state_dir) / "endpoints.json").unlink(missing_ok=True)  # a stale one must not be read
        self.log_path = Path(self.state_dir) / "sandbox.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:  # a file, not a pipe: a chatty server never blocks on it
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 30
        try:
            while True:
                try:
                    self.control.stats()
                    self.salesforce_control.stats()
                    if self._endpoints_written():  # what the CLI and the seeder read, written after start
                        return self
                    raise RuntimeError("endpoints.json not written yet")
                except Exception:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        err = self.log_path.read_text(errors="replace")[-2000:]
                        raise RuntimeError(f"the sandbox did not start on port {self.port}:\n{err}") from None
                    time.sleep(0.2)
        except BaseException:  # not started, or interrupted (Ctrl-C, a SIGTERM handler) while starting
            self.__exit__()
            raise

    def _endpoints_written(self) -> bool:
        import json

        try:
            found = json.loads((Path(self.state_dir) / "endpoints.json").read_text())
        except (OSError, ValueError):
            return False
        return found.get("lineworks", {}).get("url", "").endswith(f":{self.port}")

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
