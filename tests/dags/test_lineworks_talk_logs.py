"""``lineworks_talk_logs`` run by Airflow itself (``airflow dags test``) against both sandboxes.

The demo company talks 09:00–11:00 JST on 2026-11-20 (00:00–02:00 UTC). A run whose data interval ends
at 02:00 UTC re-reads the two hours before it (the look-back), so one run sees the whole demo.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest

from tests.dags.org import (
    RUN_DATE,
    Org,
    assert_logs_keep_secrets_and_talks_out,
    connection_secrets,
    new_org,
    register_all,
    snapshot,
)


def test_should_turn_the_demo_talks_into_one_task_per_friend_and_hour(org):
    friends = org.friends
    registered = friends[1:]  # friends[0] stays unregistered
    org.register(registered[0::3], "lead")
    org.register(registered[1::3], "contact")
    org.register(registered[2::3], "none")
    done = org.run()
    assert_logs_keep_secrets_and_talks_out(org, done)

    tasks = org.tasks()
    assert tasks, "no Task was created"
    by_key = {t["ActivityKey__c"]: t for t in tasks}
    assert len(by_key) == len(tasks)  # one Task per key
    linked = {f["contactId"] for f in registered}
    # Every message resolved to a registered friend is a line of exactly that friend's hour Task.
    rows = org.archive(
        "SELECT f.contact_id, f.hour_bucket, m.body FROM lw_message_friends f "
        "JOIN lw_messages m ON m.message_key = f.message_key"
    )
    expected: dict[tuple[str, str], int] = {}
    for contact_id, hour, _ in rows:
        expected[(contact_id, hour)] = expected.get((contact_id, hour), 0) + 1
    loaded = {
        (k.split("-", 2)[2].rsplit("-", 1)[0], k.rsplit("-", 1)[1]): t
        for k, t in by_key.items()
        if not k.rsplit("-", 1)[1].startswith("p")
    }
    for (contact_id, hour), count in expected.items():
        if contact_id in linked:
            task = loaded[(contact_id, hour)]
            assert task["MessageCount__c"] == count
            assert task["Subject"] == "LINE WORKSログ" and task["Status"] == "Completed"
        else:
            assert (contact_id, hour) not in loaded  # not registered yet: archived, not loaded
    # Bot messages and internal rooms never become lines.
    statuses = dict(org.archive("SELECT resolution, COUNT(*) FROM lw_messages GROUP BY resolution"))
    assert statuses.get("bot", 0) >= 1 and statuses.get("internal", 0) >= 1
    for task in tasks:
        assert "[Bot]" not in task["Description"]
    # Each Task belongs to the rep who owns the friend.
    master = {f["contactId"]: f["master"] for f in friends}
    for (contact_id, _), task in loaded.items():
        assert task["OwnerId"] == org.sf_user_of[master[contact_id]]


def test_should_change_nothing_when_the_same_window_runs_again(org):
    org.register(org.friends, "contact")
    org.run()
    before = {t["ActivityKey__c"]: t["Description"] for t in org.tasks()}
    calls_before = org.salesforce.calls()
    again = org.run("2026-11-20T02:00:00+00:00")
    assert "'salesforce_calls': 0" in again.stdout + again.stderr
    assert {t["ActivityKey__c"]: t["Description"] for t in org.tasks()} == before
    writes = ("collections.upsert", "bulk2.create_job", "sobject.upsert")
    assert all(org.salesforce.calls().get(w, 0) == calls_before.get(w, 0) for w in writes)


def test_should_load_a_friend_s_history_once_the_rep_registers_it(org):
    late = org.friends[0]
    org.register(org.friends[1:], "none")
    org.run()
    assert not [t for t in org.tasks() if late["contactId"] in t["ActivityKey__c"]]
    org.register([late], "lead")
    org.run("2026-11-20T02:10:00+00:00")
    theirs = [t for t in org.tasks() if late["contactId"] in t["ActivityKey__c"]]
    assert theirs and all(t["WhoId"].startswith("00Q") and t["WhatId"] is None for t in theirs)


def test_should_change_nothing_on_an_overlapping_backfill_or_history_import(org, tmp_path):
    register_all(org)
    org.run()
    before = snapshot(org)
    writes_before = _writes(org)
    org.run("2026-11-20T02:10:00+00:00")  # overlapping window, as a backfill run would re-read
    history = org.import_history(
        {"mode": "range", "start": "2026-11-20", "end": "2026-11-20"}, "2026-11-21T00:00:00+00:00"
    )
    assert history.returncode == 0, history.stdout[-6000:] + history.stderr[-3000:]
    staged = next((tmp_path / "staging" / "message-contents").glob("*.csv"))
    name = f"{tmp_path.name}/export.csv"  # a file name inside the import location
    (org.imports / tmp_path.name).mkdir()
    (org.imports / name).write_bytes(staged.read_bytes())
    from_file = org.import_history({"mode": "file", "file": name}, "2026-11-22T00:00:00+00:00")
    assert from_file.returncode == 0, from_file.stdout[-6000:] + from_file.stderr[-3000:]
    assert "'created': 0, 'updated': 0" in history.stdout + history.stderr
    # provenance in the run summary: the download windows, and the file by its SHA-256 and who imported it
    sha = hashlib.sha256(staged.read_bytes()).hexdigest()
    assert "'kind': 'monitoring'" in history.stdout + history.stderr
    assert f"'sha256': '{sha}'" in from_file.stdout + from_file.stderr
    assert "'triggered_by':" in from_file.stdout + from_file.stderr
    assert_logs_keep_secrets_and_talks_out(org, history, from_file)
    assert snapshot(org) == before
    assert _writes(org) == writes_before  # zero upserts after the first run


def test_should_end_in_the_fault_free_state_despite_faults(
    airflow_env, lineworks_sandbox, salesforce_sandbox, tmp_path
):
    reference_org = new_org(lineworks_sandbox, salesforce_sandbox, airflow_env, tmp_path / "reference")
    register_all(reference_org)
    reference_org.run()
    reference = snapshot(reference_org)

    org = new_org(lineworks_sandbox, salesforce_sandbox, airflow_env, tmp_path / "faulty")
    register_all(org)
    lineworks_sandbox.control.random_faults(0.1, ["429", "500", "503", "reset"], seed=11)
    lineworks_sandbox.control.fault("users", "expire_token", count=1)
    lineworks_sandbox.control.fault("files.download", "download_error", count=1)
    # The demo makes few calls, so besides the 10 % rate every kind is also queued once.
    for target, kind in [("contacts", "503"), ("monitoring", "429"), ("users", "reset"), ("token", "500")]:
        lineworks_sandbox.control.fault(target, kind)
    salesforce_sandbox.control.random_faults(0.1, ["503", "500", "reset"], seed=12)
    salesforce_sandbox.control.fault("composite", "expire_session", count=1)  # the build's link queries
    for target, kind in [("collections", "reset"), ("composite", "503"), ("oauth.token", "500")]:
        salesforce_sandbox.control.fault(target, kind)
    done = org.run()
    assert_logs_keep_secrets_and_talks_out(org, done)  # retried errors are logged too
    injected_lw = lineworks_sandbox.control.stats()["faults"]["injected"]
    injected_sf = salesforce_sandbox.control.stats()["faults"]["injected"]
    assert injected_lw.get("download_error") == 1 and injected_lw.get("expire_token") == 1
    assert all(injected_lw.get(k) for k in ("503", "429", "reset", "500"))
    assert all(injected_sf.get(k) for k in ("expire_session", "reset", "503", "500"))
    salesforce_sandbox.control.clear_faults()  # the test's own reads below are not under test
    assert snapshot(org) == reference


def test_should_recover_from_a_task_killed_mid_load(
    airflow_env, lineworks_sandbox, salesforce_sandbox, tmp_path
):
    import signal
    import time

    reference_org = new_org(lineworks_sandbox, salesforce_sandbox, airflow_env, tmp_path / "reference")
    register_all(reference_org)
    reference_org.run()
    reference = snapshot(reference_org)

    org = new_org(lineworks_sandbox, salesforce_sandbox, airflow_env, tmp_path / "killed")
    register_all(org)
    # A slow Bulk job keeps the load task busy long enough to be killed in the middle of it.
    salesforce_sandbox.control.configure(bulk_transition={"mode": "polls", "polls": 100_000})
    slow = {
        **org.env,
        "AIRFLOW_CONN_SALESFORCE_DEFAULT": json.dumps(
            salesforce_sandbox.connection(
                bulk_threshold=1, bulk_poll_interval=0.05, backoff_base=0.01, backoff_max=0.05
            )
        ),
    }
    proc = subprocess.Popen(
        ["airflow", "dags", "test", "lineworks_talk_logs", RUN_DATE],
        env=slow,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while salesforce_sandbox.calls().get("bulk2.status", 0) < 2:
        assert proc.poll() is None, "the run ended before its load was killed"
        assert time.monotonic() < deadline, "the load never started"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # SIGKILL: no cleanup, mid-load
    proc.wait(timeout=30)
    assert org.tasks() == []  # nothing reached Salesforce yet

    salesforce_sandbox.control.configure(bulk_transition={"mode": "immediate"})
    # The retry: a later run (its look-back still covers the demo hours) finds the outbox and loads it.
    org.run(
        "2026-11-20T02:10:00+00:00",
        AIRFLOW_VAR_LINEWORKS_SALESFORCE_SETTINGS=json.dumps({"lookback_hours": 3}),
    )
    assert snapshot(org) == reference


def _writes(org: Org) -> dict[str, int]:
    calls = org.salesforce.calls()
    return {
        k: v
        for k, v in calls.items()
        if k.startswith(("collections.", "bulk2.", "sobject.upsert")) and "!" not in k
    }


@pytest.mark.timeout(900)
def test_should_run_under_airflow_backfill(org, airflow_env, tmp_path):
    """A real scheduler (``airflow standalone``) executes an ``airflow backfill create`` run of the DAG.

    The backfill is created before the scheduler starts: with the SQLite metadata database a CLI write
    racing the scheduler can fail with "database is locked" (an Airflow/SQLite limit, not ours).
    """
    import signal
    import socket
    import time
    import urllib.request

    register_all(org)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **org.env,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
    }

    def airflow(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(["airflow", *args], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"airflow {' '.join(args)}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        return done

    airflow("dags", "reserialize")
    # A paused DAG's backfill runs are not started (seen on 3.3.2): unpause it, as an operator would.
    airflow("dags", "unpause", "lineworks_talk_logs")
    # --to-date did not add a run for 02:00 on 3.3.2: this is one run, interval [01:50, 02:00).
    airflow(
        "backfill",
        "create",
        "--dag-id",
        "lineworks_talk_logs",
        "--from-date",
        "2026-11-20T01:50:00+00:00",
        "--to-date",
        "2026-11-20T02:00:00+00:00",
        "--max-active-runs",
        "1",
    )
    log = open(tmp_path / "standalone.log", "wb")
    standalone = subprocess.Popen(
        ["airflow", "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 600
        state = None
        while state not in ("success", "failed"):
            assert standalone.poll() is None, (tmp_path / "standalone.log").read_text()[-4000:]
            assert time.monotonic() < deadline, (tmp_path / "standalone.log").read_text()[-4000:]
            time.sleep(5)
            try:
                with urllib.request.urlopen(f"http://localhost:{port}/api/v2/version", timeout=5):
                    pass
            except OSError:
                continue  # the API server is still starting
            runs = subprocess.run(
                ["airflow", "dags", "list-runs", "lineworks_talk_logs", "-o", "json"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            listed = next((json.loads(line) for line in runs.stdout.splitlines() if line.startswith("[")), [])
            state = next((r["state"] for r in listed if r["run_id"].startswith("backfill__")), None)
        assert state == "success", (tmp_path / "standalone.log").read_text()[-5000:]
    finally:
        os.killpg(standalone.pid, signal.SIGTERM)
        try:
            standalone.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(standalone.pid, signal.SIGKILL)
        log.close()
    # The backfill run loaded the demo hours: one Task per (friend, hour), as a direct run does.
    keys = [t["ActivityKey__c"] for t in org.tasks()]
    assert keys and len(keys) == len(set(keys))


def test_should_render_a_range_again_after_a_settings_change(org):
    register_all(org)
    org.run()
    before = {t["ActivityKey__c"]: t["Description"] for t in org.tasks()}
    writes_before = _writes(org)
    settings = json.dumps({"redact_patterns": ["見積"]})
    done = org.import_history(
        {"mode": "rerender", "start": "2026-11-20", "end": "2026-11-20"},
        "2026-11-23T00:00:00+00:00",
        AIRFLOW_VAR_LINEWORKS_SALESFORCE_SETTINGS=settings,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    after = {t["ActivityKey__c"]: t["Description"] for t in org.tasks()}
    changed = {k for k, text in before.items() if "見積" in text}
    assert changed and set(before) - changed
    assert set(after) == set(before)  # the same Tasks, updated in place
    assert {k for k in before if after[k] != before[k]} == changed
    assert all("見積" not in after[k] and "[非表示]" in after[k] for k in changed)
    assert f"'created': 0, 'updated': {len(changed)}" in done.stdout + done.stderr
    assert _writes(org) != writes_before


def test_should_fail_a_wrong_history_form_at_once_without_retries(org):
    done = org.import_history(
        {"mode": "range", "start": "2026-06-30", "end": "2026-06-01"}, "2026-11-23T00:00:00+00:00"
    )
    out = done.stdout + done.stderr
    assert "end: the range ends (2026-06-01) before it starts (2026-06-30)" in out, out[-4000:]
    # failed on its first try (a ValueError would go up_for_retry: retries cannot fix a form)
    assert "new_state=failed" in out and "up_for_retry" not in out
    assert "state=failed" in out.split("DagRun Finished", 1)[1]
    assert org.tasks() == []


def _failed_at_once(done: subprocess.CompletedProcess) -> str:
    out = done.stdout + done.stderr
    assert "new_state=failed" in out and "up_for_retry" not in out, out[-4000:]
    assert "state=failed" in out.split("DagRun Finished", 1)[1]
    return out


def test_should_keep_the_connections_secrets_out_of_logs_whatever_file_is_imported(org, tmp_path):
    """The connections are in the environment (as in a real deployment); a user who may trigger DAGs
    asks for the worker's environment by path, and for files holding the same secrets (no line break at
    all, secrets as the header's cells, secrets in bad rows): each run fails on its first try, naming
    why, and no task log holds any of the secrets."""
    secrets = connection_secrets(org)
    environ = "\0".join(f"{k}={v}" for k, v in org.env.items() if k.startswith("AIRFLOW_CONN_")).encode()
    assert all(
        v in environ.decode() for v in secrets.values() if v not in (org.salesforce.creds.consumer_secret,)
    )
    folder = org.imports / tmp_path.name
    folder.mkdir()
    (folder / "environ").write_bytes(environ)  # /proc/self/environ copied in: one "header", no line break
    (folder / "header.csv").write_text(",".join(secrets.values()) + "\n2026-11-20,a,b,c\n", encoding="utf-8")
    (folder / "shift_jis.csv").write_bytes(",".join(secrets.values()).encode() + "\n日時".encode("cp932"))
    cases = {
        "/proc/self/environ": "file: give a file name inside the import location",
        "../../../../../../proc/self/environ": "file: '..' is not allowed",
        f"{tmp_path.name}/environ": "the imported data: ",
        f"{tmp_path.name}/header.csv": "the imported data: ",
        f"{tmp_path.name}/shift_jis.csv": "the imported data: ",
    }
    outputs = []
    for i, (name, reason) in enumerate(cases.items()):
        done = org.import_history({"mode": "file", "file": name}, f"2026-11-2{i}T05:00:00+00:00")
        out = _failed_at_once(done)
        assert reason in out, (name, out[-3000:])
        outputs.append(out)
    everything = "".join(outputs)
    leaked = sorted(n for n, v in secrets.items() if v and v in everything)
    assert not leaked, f"secrets in the task logs: {leaked}"
    assert org.archive("SELECT COUNT(*) FROM lw_messages") == [(0,)]
