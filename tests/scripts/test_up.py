"""``make up``'s launcher (scripts/up.py): what it prints, and that SIGTERM leaves no child behind."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import time

import pytest

from tests.launch_up import ROOT, processes_with, start_up


def _launcher():
    spec = importlib.util.spec_from_file_location("up_launcher", ROOT / "scripts" / "up.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_should_keep_one_admin_password_for_every_start(tmp_path):
    up = _launcher()
    first = up.admin_password(tmp_path / "airflow")
    path = tmp_path / "airflow" / "simple_auth_manager_passwords.json.generated"
    assert len(first) >= 16 and oct(path.stat().st_mode & 0o777) == "0o600"
    assert up.admin_password(tmp_path / "airflow") == first  # the next start prints the same one
    path.write_text(json.dumps({"admin": "chosen-by-admin"}))  # a password set by hand stays
    assert up.admin_password(tmp_path / "airflow") == "chosen-by-admin"


@pytest.mark.timeout(400)
def test_should_print_the_urls_and_stop_every_child_on_sigterm(tmp_path):
    up = start_up(tmp_path)
    marker = up.marker
    try:
        printed = up.printed()
        assert f"LINE WORKS sandbox  https://localhost:{up.lineworks_port}  (Domain ID " in printed
        assert "Salesforce sandbox  https://localhost:" in printed
        assert f"CA bundle           {tmp_path / 'sandbox'}" in printed and up.airflow_url in printed
        stored = json.loads((up.home / "simple_auth_manager_passwords.json.generated").read_text())
        assert up.password and up.password == stored["admin"]  # the login that works, on every start
        # let standalone start its scheduler, api-server, dag processor and triggerer
        deadline = time.monotonic() + 120
        while len(processes_with(marker)) < 4 and time.monotonic() < deadline:
            time.sleep(1)
        time.sleep(5)
        children = processes_with(marker)
        assert len(children) >= 4, up.printed()[-3000:]
        up.process.send_signal(signal.SIGTERM)
        assert up.process.wait(timeout=90) == 0
    finally:
        if up.process.poll() is None:
            up.process.kill()
    deadline = time.monotonic() + 30
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(1)
    left = processes_with(marker)
    for pid in left:  # do not leave them to the next test, but fail
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not left, f"{len(left)} process(es) survived SIGTERM"
