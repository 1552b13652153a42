""" "Try it with your own export": a Monitoring export → a scenario of its people → both sandboxes seeded
from it → the export imported as a file → Tasks in Salesforce, each on the contact its friend became."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta, timezone

import yaml

from hooks.activity_loader import ActivityLoader
from hooks.lineworks import LineWorksHook
from hooks.salesforce import SalesforceActivityHook
from lineworks_salesforce.archive import Archive
from lineworks_salesforce.cli import main
from lineworks_salesforce.pipelines import Run, Source, archive_file, build, load, refresh_directory, resolve
from lineworks_salesforce.settings import load_settings
from lineworks_salesforce.talklog.csvparse import MessageCsvParser, ParseSettings

START = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)


def _export(lineworks_sandbox, lineworks_conn, tmp_path):
    """A real export of the generated `test` tenant, then a sandbox that no longer holds that tenant."""
    domain_id = str(lineworks_sandbox.seed(size="test", seed=7)["domainId"])
    lineworks_conn(domain_id=domain_id)
    path = tmp_path / "export.csv"
    LineWorksHook().download_message_contents(START, START + timedelta(days=3), path)
    lineworks_sandbox.control.reset()
    return path, domain_id


def _cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


def test_should_turn_one_s_own_export_into_tasks_in_the_sandbox(
    tmp_path, state_dir, lineworks_sandbox, lineworks_conn, salesforce_sandbox, salesforce_conn
):
    export, domain_id = _export(lineworks_sandbox, lineworks_conn, tmp_path)
    scenario = tmp_path / "mine.yaml"
    code, printed = _cli("sandbox", "scenario", str(export), "-o", str(scenario))
    assert code == 0 and f"{scenario}:" in printed
    spec = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    messages = [c.messages for c in MessageCsvParser(export, ParseSettings())]
    senders = {e for m in messages for e in m["sender_email"] if e}
    assert senders <= {u["email"] for u in spec["users"]}  # every member who wrote is a member
    assert "messages" not in spec  # the export itself is imported as a file

    spec["domainId"] = int(domain_id)
    scenario.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    assert _cli("sandbox", "seed", str(scenario), "--state-dir", str(state_dir))[0] == 0
    salesforce_conn(backoff_base=0.01, backoff_max=0.05, bulk_poll_interval=0.05)

    archive = Archive(f"sqlite:///{tmp_path / 'archive.db'}")
    archive.migrate()
    run = Run(archive, load_settings(), "import-own-export", domain_id)
    sha = hashlib.sha256(export.read_bytes()).hexdigest()
    archive_file(run, export, source=Source.file(export.name, sha, "admin"))
    refresh_directory(run, LineWorksHook())
    resolve(run)
    build(run, SalesforceActivityHook())
    loaded = load(run, ActivityLoader(SalesforceActivityHook()))
    assert loaded["created"] > 0 and loaded["rejected"] == 0

    code, printed = _cli("sandbox", "tasks", "--state-dir", str(state_dir), "--limit", "1000")
    assert code == 0 and f"Salesforce Tasks (newest first, at most 1000): {loaded['created']}" in printed
    sf = salesforce_sandbox.simple_salesforce()
    contacts = {r["Contact__c"] for r in sf.query_all("SELECT Contact__c FROM ExternalContact__c")["records"]}
    tasks = sf.query_all("SELECT WhoId, OwnerId FROM Task")["records"]
    assert tasks and all(t["WhoId"] in contacts for t in tasks)  # each on the Contact its friend became
    reps = {r["Id"] for r in sf.query_all("SELECT Id FROM User WHERE Email LIKE '%@%'")["records"]}
    assert all(t["OwnerId"] in reps for t in tasks)
