"""Provenance: every archived line knows where it came from, and an imported file can be forgotten.

Against both sandboxes, without Airflow: a forged file is imported on top of a Monitoring download, its
lines are listed, forgotten, and Salesforce returns to exactly the state before the import — and a
re-run after that costs no upsert.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
from datetime import datetime, timedelta, timezone

import pytest

from hooks.activity_loader import ActivityLoader
from hooks.lineworks import LineWorksHook
from hooks.salesforce import SalesforceActivityHook
from lineworks_salesforce.archive import Archive
from lineworks_salesforce.pipelines import (
    Run,
    Source,
    archive_file,
    build,
    find_source,
    forget_source,
    list_sources,
    load,
    refresh_directory,
    resolve,
    source_lines,
)
from lineworks_salesforce.settings import load_settings
from sandbox.demo_org import register_friends, seed_reps

START = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)
END = START + timedelta(days=3)
FORGED = "解約はいつでも無料です（偽の約束）"


@pytest.fixture
def org(lineworks_sandbox, lineworks_conn, salesforce_sandbox, salesforce_conn, tmp_path):
    domain_id = str(lineworks_sandbox.seed(size="test", seed=7)["domainId"])
    lineworks_conn(domain_id=domain_id)
    salesforce_conn(backoff_base=0.01, backoff_max=0.05, bulk_poll_interval=0.05)
    seed_reps(salesforce_sandbox.control, lineworks_sandbox.state_users())
    register_friends(salesforce_sandbox.control, lineworks_sandbox.state_friends(), "contact")
    csv_path = tmp_path / "download.csv"
    LineWorksHook().download_message_contents(START, END, csv_path)
    archive = Archive(f"sqlite:///{tmp_path / 'archive.db'}")
    archive.migrate()
    run = Run(archive, load_settings(), "scheduled", domain_id)
    downloaded = Source.monitoring(
        START, END, csv_path.name, hashlib.sha256(csv_path.read_bytes()).hexdigest()
    )
    archive_file(run, csv_path, source=downloaded)
    _cycle(run)
    return run, csv_path


def _cycle(run: Run) -> dict:
    refresh_directory(run, LineWorksHook())
    resolve(run)
    build(run, SalesforceActivityHook())
    return load(run, ActivityLoader(SalesforceActivityHook()))


def _tasks() -> list[tuple]:
    rows = SalesforceActivityHook().query_records(
        "SELECT ActivityKey__c, Subject, Description, MessageCount__c, WhoId, WhatId, OwnerId FROM Task"
    )
    return sorted(
        tuple(
            r[f]
            for f in (
                "ActivityKey__c",
                "Subject",
                "Description",
                "MessageCount__c",
                "WhoId",
                "WhatId",
                "OwnerId",
            )
        )
        for r in rows
    )


def _forged_file(run: Run, csv_path, tmp_path):
    """A file with a valid header: one forged line in an hour that has a Task, one in an hour that has
    none, and one genuine line copied from the download (a duplicate, which must survive the forget)."""
    rows = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    header, data = rows[0], rows[1:]
    linked = {  # a line that lands on exactly one friend (a group talk would land on each)
        r["body"]
        for r in run.archive.query_raw(
            "SELECT m.body FROM lw_messages m JOIN lw_message_friends f ON f.message_key = m.message_key"
            " GROUP BY m.message_key, m.body HAVING COUNT(*) = 1"
        )
    }
    genuine = next(r for r in data if r[-1] in linked and len(r[-1]) > 3)
    into_existing = [*genuine[:-1], FORGED]
    into_new_hour = ["2026-11-23T03:17:00+09:00", *genuine[1:-1], FORGED + "（深夜）"]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, into_existing, into_new_hour, genuine])
    path = tmp_path / "forged.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_should_forget_an_imported_file_and_return_salesforce_to_its_state_before(org, tmp_path):
    run, csv_path = org
    before = _tasks()
    assert before and not any(FORGED in t[2] for t in before)
    forged = _forged_file(run, csv_path, tmp_path)
    sha = hashlib.sha256(forged.read_bytes()).hexdigest()
    importing = dataclasses.replace(run, run_id="import-1")

    archived = archive_file(importing, forged, source=Source.file("forged.csv", sha, triggered_by="mallory"))
    loaded = _cycle(importing)

    assert archived["source"] == {
        "source_id": f"file:{sha}",
        "kind": "file",
        "name": "forged.csv",
        "sha256": sha,
        "triggered_by": "mallory",
    }
    assert (archived["new_messages"], loaded["created"], loaded["updated"]) == (2, 1, 1)
    assert sum(FORGED in t[2] for t in _tasks()) == 2
    # provenance: both sources listed, with who and which run
    sources = {s["source_id"]: s for s in list_sources(run.archive)}
    assert sources[f"file:{sha}"]["triggered_by"] == "mallory"
    assert sources[f"file:{sha}"]["run_id"] == "import-1"
    assert (sources[f"file:{sha}"]["messages"], sources[f"file:{sha}"]["file_lines"]) == (2, 3)
    [monitoring] = [s for s in sources.values() if s["kind"] == "monitoring"]
    assert monitoring["window_start"] == "2026-11-20T00:00:00Z" and monitoring["run_id"] == "scheduled"
    lines = source_lines(run.archive, find_source(run.archive, sha.upper())["source_id"])
    assert sorted((FORGED in r["body"], bool(r["own"])) for r in lines) == [
        (False, False),
        (True, True),
        (True, True),
    ]

    forgotten = forget_source(run.archive, f"file:{sha}", run_id="forget-1")
    assert forgotten == {
        "messages_removed": 2,
        "quarantined_removed": 0,
        "hours_rerendered": 1,
        "tasks_to_delete": 1,
    }
    after_forget = _cycle(dataclasses.replace(run, run_id="after-forget"))

    assert (after_forget["updated"], after_forget["deleted"], after_forget["created"]) == (1, 1, 0)
    assert _tasks() == before  # exactly the state before the import
    assert not any(FORGED in r["body"] for r in run.archive.query_raw("SELECT body FROM lw_messages"))
    assert f"file:{sha}" not in {s["source_id"] for s in list_sources(run.archive)}
    again = _cycle(dataclasses.replace(run, run_id="again"))
    assert (again["created"], again["updated"], again["deleted"], again["salesforce_calls"]) == (0, 0, 0, 0)


def test_should_keep_a_line_that_a_monitoring_download_also_delivered(org, tmp_path):
    """A file imported first, its lines then downloaded: the download is their source, forget keeps them."""
    run, csv_path = org
    fresh = Archive(f"sqlite:///{tmp_path / 'fresh.db'}")
    fresh.migrate()
    first = dataclasses.replace(run, archive=fresh)
    sha = hashlib.sha256(csv_path.read_bytes()).hexdigest()
    archive_file(first, csv_path, source=Source.file("export.csv", sha))
    count = fresh.scalar("SELECT COUNT(*) FROM lw_messages")
    archive_file(first, csv_path, source=Source.monitoring(START, END, "download.csv", sha))
    assert fresh.scalar("SELECT COUNT(*) FROM lw_messages WHERE source LIKE 'monitoring:%'") == count

    assert forget_source(fresh, f"file:{sha}", "forget")["messages_removed"] == 0
    assert fresh.scalar("SELECT COUNT(*) FROM lw_messages") == count


def test_should_refuse_to_forget_what_is_not_an_imported_file(org):
    run, _ = org
    with pytest.raises(ValueError, match="only imported files"):
        forget_source(run.archive, "monitoring:20261120T000000Z-20261123T000000Z", "forget")
    with pytest.raises(ValueError, match="64 hexadecimal"):
        find_source(run.archive, "not-a-hash")
    with pytest.raises(LookupError, match="no imported file"):
        find_source(run.archive, "0" * 64)
