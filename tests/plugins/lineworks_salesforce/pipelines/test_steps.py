"""The pipeline's steps against both sandboxes, without Airflow: how the work is cut never changes the result.

``build`` reads the archive in frames of ``build_chunk_rows`` rows and ``load`` sends the outbox in slices
of ``load_batch_records``: memory knobs. Whatever their values, each (friend, hour) is rendered from all
of its messages and each record reaches Salesforce exactly once.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date, datetime, timedelta, timezone

import pytest

from hooks.activity_loader import ActivityLoader
from hooks.lineworks import LineWorksHook
from hooks.salesforce import SalesforceActivityHook
from lineworks_salesforce.archive import Archive
from lineworks_salesforce.pipelines import (
    Run,
    archive_file,
    build,
    load,
    mark_for_rerender,
    refresh_directory,
    resolve,
)
from lineworks_salesforce.settings import load_settings
from sandbox.demo_org import register_friends, seed_reps

START = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)  # the "test" scenario: 2 days from 09:00 JST


@pytest.fixture
def tenant(lineworks_sandbox, lineworks_conn, salesforce_sandbox, salesforce_conn, tmp_path):
    """The "test" company (2,000 messages) downloaded once; every friend linked to a Contact."""
    domain_id = str(lineworks_sandbox.seed(size="test", seed=7)["domainId"])
    lineworks_conn(domain_id=domain_id)
    salesforce_conn(backoff_base=0.01, backoff_max=0.05, bulk_poll_interval=0.05)
    seed_reps(salesforce_sandbox.control, lineworks_sandbox.state_users())
    friends = lineworks_sandbox.state_friends()
    register_friends(salesforce_sandbox.control, friends, "contact")
    csv_path = tmp_path / "messages.csv"
    LineWorksHook().download_message_contents(START, START + timedelta(days=3), csv_path)
    return domain_id, csv_path


def _prepared(tmp_path, name: str, domain_id: str, csv_path, **settings) -> Run:
    archive = Archive(f"sqlite:///{tmp_path / (name + '.db')}")
    archive.migrate()
    run = Run(archive, dataclasses.replace(load_settings(), **settings), name, domain_id)
    archive_file(run, csv_path)
    refresh_directory(run, LineWorksHook())
    resolve(run)
    return run


def _outbox(run: Run) -> dict[str, dict]:
    rows = run.archive.query_raw("SELECT activity_key, record FROM lw_outbox")
    return {r["activity_key"]: json.loads(r["record"]) for r in rows}


def test_should_render_the_same_records_whatever_the_build_chunk(tenant, tmp_path):
    domain_id, csv_path = tenant
    whole = _prepared(tmp_path, "whole", domain_id, csv_path)
    tiny = _prepared(tmp_path, "tiny", domain_id, csv_path, build_chunk_rows=7)
    build(whole, SalesforceActivityHook())
    build(tiny, SalesforceActivityHook())
    expected, got = _outbox(whole), _outbox(tiny)
    assert len(expected) > 50
    assert max(r["MessageCount__c"] for r in expected.values()) > 7  # hours larger than a chunk exist
    assert got == expected
    assert tiny.archive.counts()["lw_pending_hours"] == 0


def test_should_find_every_friends_link_whatever_the_query_size(tenant, tmp_path, salesforce_sandbox):
    domain_id, csv_path = tenant
    whole = _prepared(tmp_path, "links-whole", domain_id, csv_path)
    small = _prepared(tmp_path, "links-small", domain_id, csv_path, link_query_ids=3)
    [pending] = small.archive.query_raw("SELECT COUNT(DISTINCT contact_id) AS n FROM lw_pending_hours")
    build(whole, SalesforceActivityHook())
    before = salesforce_sandbox.calls()

    build(small, SalesforceActivityHook())

    assert _outbox(small) == _outbox(whole)
    # the users' query and one per 3 friends, 5 per Composite call; no plain query
    queries = 1 + -(-pending["n"] // 3)
    after = salesforce_sandbox.calls()
    assert pending["n"] > 10
    assert after["composite"] - before["composite"] == -(-queries // 5)
    assert after.get("query", 0) == before.get("query", 0)


def test_should_render_a_date_range_again_with_new_settings(tenant, tmp_path):
    domain_id, csv_path = tenant
    run = _prepared(tmp_path, "rerender", domain_id, csv_path)
    build(run, SalesforceActivityHook())
    load(run, ActivityLoader(SalesforceActivityHook()))

    def descriptions() -> dict[str, str]:
        rows = SalesforceActivityHook().query_records("SELECT ActivityKey__c, Description FROM Task")
        return {t["ActivityKey__c"]: t["Description"] for t in rows}

    def day(key: str) -> str:
        return re.search(r"-(\d{8})\d{2}(?:-p\d+)?$", key)[1]

    before = descriptions()
    redacting = dataclasses.replace(
        run, settings=dataclasses.replace(run.settings, redact_patterns=("見積",))
    )

    marked = mark_for_rerender(redacting, date(2026, 11, 20), date(2026, 11, 20))
    built = build(redacting, SalesforceActivityHook())
    loaded = load(redacting, ActivityLoader(SalesforceActivityHook()))

    after = descriptions()
    first_day = {k for k in before if day(k) == "20261120"}
    changed = {k for k in first_day if "見積" in before[k]}
    assert changed and first_day - changed
    assert any("見積" in text for k, text in before.items() if day(k) == "20261121")  # left as it was
    assert marked["pending_hours"] == built["rendered"] == len(first_day)
    assert (loaded["created"], loaded["updated"], loaded["rejected"]) == (0, len(changed), 0)
    assert {k for k in before if after[k] != before[k]} == changed
    assert all("見積" not in after[k] and "[非表示]" in after[k] for k in changed)


def test_should_load_every_record_once_in_slices(tenant, tmp_path, salesforce_sandbox):
    domain_id, csv_path = tenant
    run = _prepared(tmp_path, "sliced", domain_id, csv_path, load_batch_records=40)
    build(run, SalesforceActivityHook())
    outbox = _outbox(run)
    before = salesforce_sandbox.calls().get("collections.upsert", 0)

    result = load(run, ActivityLoader(SalesforceActivityHook()))

    slices = -(-len(outbox) // 40)
    assert slices > 2
    assert salesforce_sandbox.calls()["collections.upsert"] - before == slices  # one call per slice ≤ 200
    assert (result["created"], result["rejected"], result["salesforce_calls"]) == (len(outbox), 0, slices)
    tasks = list(SalesforceActivityHook().query_records("SELECT ActivityKey__c, MessageCount__c FROM Task"))
    assert sorted(t["ActivityKey__c"] for t in tasks) == sorted(outbox)
    assert run.archive.counts()["lw_outbox"] == 0
    assert run.archive.counts()["lw_activities"] == len(outbox)
    assert load(run, ActivityLoader(SalesforceActivityHook()))["salesforce_calls"] == 0


def test_should_load_bulk_slices_sent_ahead_exactly_once(
    tenant, tmp_path, salesforce_sandbox, salesforce_conn
):
    # every slice is a Bulk job, and the hook sends the next one before load stores the current one
    salesforce_conn(bulk_threshold=1, bulk_jobs_in_flight=3, backoff_base=0.01, bulk_poll_interval=0.05)
    domain_id, csv_path = tenant
    run = _prepared(tmp_path, "ahead", domain_id, csv_path, load_batch_records=60)
    build(run, SalesforceActivityHook())
    outbox = _outbox(run)

    result = load(run, ActivityLoader(SalesforceActivityHook()))

    slices = -(-len(outbox) // 60)
    assert slices > 3 and result["slices"] == slices
    assert salesforce_sandbox.calls()["bulk2.create_job"] == slices
    assert (result["created"], result["updated"], result["rejected"]) == (len(outbox), 0, 0)
    stored = run.archive.query_raw("SELECT activity_key, sf_id, content_hash FROM lw_activities")
    tasks = {
        t["ActivityKey__c"]: t["Id"]
        for t in SalesforceActivityHook().query_records("SELECT Id, ActivityKey__c FROM Task")
    }
    assert {r["activity_key"]: r["sf_id"] for r in stored} == tasks  # each slice's ids stored with it
    assert sorted(tasks) == sorted(outbox)
    assert run.archive.counts()["lw_outbox"] == 0


def _one_more_message(run: Run, tmp_path, name: str, text: str) -> str:
    """Archive (and resolve) a message in the hour of the first linked message; returns that hour's key."""
    row = run.archive.query_raw(
        "SELECT m.sent_at, m.sender_raw, m.recipients_raw, m.channel_id, f.contact_id, f.hour_bucket "
        "FROM lw_messages m JOIN lw_message_friends f ON f.message_key = m.message_key "
        "ORDER BY m.sent_at, f.contact_id LIMIT 1"
    )[0]

    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"'

    path = tmp_path / f"{name}.csv"
    path.write_text(
        "日時,送信者,受信者,チャンネルID,トーク\n"
        + ",".join(cell(row[c]) for c in ("sent_at", "sender_raw", "recipients_raw", "channel_id"))
        + f",{cell(text)}\n",
        encoding="utf-8",
    )
    archive_file(run, path)
    resolve(run)
    return f"LW-{run.domain_id}-{row['contact_id']}-{row['hour_bucket']}"


def test_should_delete_the_parts_an_hour_no_longer_has(tenant, tmp_path, salesforce_sandbox):
    # An hour long enough for two Tasks; a redaction pattern added later shortens it to one. The second
    # Task would keep text that is now in the first (and unredacted): load deletes it.
    domain_id, csv_path = tenant
    run = _prepared(tmp_path, "parts", domain_id, csv_path)
    key = _one_more_message(run, tmp_path, "long", "カード番号 " + "秘" * 40_000)
    build(run, SalesforceActivityHook())
    load(run, ActivityLoader(SalesforceActivityHook()))
    hook = SalesforceActivityHook()

    def parts() -> dict[str, str]:
        tasks = hook.query_records(
            f"SELECT ActivityKey__c, Description FROM Task WHERE ActivityKey__c LIKE '{key}%'"
        )
        return {t["ActivityKey__c"]: t["Description"] for t in tasks}

    assert sorted(parts()) == [key, f"{key}-p2"]
    split = run.archive.counts()["lw_split_hours"]  # this hour, and one per other friend in a group room

    redacting = Run(run.archive, dataclasses.replace(run.settings, redact_patterns=["秘+"]), "r2", domain_id)
    _one_more_message(redacting, tmp_path, "late", "遅れて届いたメッセージ")
    built = build(redacting, SalesforceActivityHook())
    loaded = load(redacting, ActivityLoader(SalesforceActivityHook()))

    assert split >= 1
    assert built["stale_parts"] == loaded["deleted"] == split and loaded["delete_refused"] == 0
    now = parts()
    assert list(now) == [key]
    assert "遅れて届いたメッセージ" in now[key] and "[非表示]" in now[key] and "秘" not in now[key]
    stored = {r["activity_key"] for r in run.archive.query_raw("SELECT activity_key FROM lw_activities")}
    assert f"{key}-p2" not in stored and key in stored
    assert run.archive.counts()["lw_stale_parts"] == run.archive.counts()["lw_split_hours"] == 0
    # nothing left to do: a second load makes no call
    assert load(redacting, ActivityLoader(SalesforceActivityHook()))["salesforce_calls"] == 0

    # the pattern removed, the hour grows back into several parts: their Tasks are created again
    again = Run(run.archive, run.settings, "r3", domain_id)
    _one_more_message(again, tmp_path, "later", "さらに後のメッセージ")
    build(again, SalesforceActivityHook())
    grown = load(again, ActivityLoader(SalesforceActivityHook()))
    assert grown["created"] >= split and grown["deleted"] == 0
    stored = {r["activity_key"] for r in run.archive.query_raw("SELECT activity_key FROM lw_activities")}
    assert f"{key}-p2" in parts()
    assert set(parts()) == {k for k in stored if k.startswith(key)}


def test_should_refuse_a_rerender_range_that_ends_before_it_starts(tmp_path):
    archive = Archive(f"sqlite:///{tmp_path / 'archive.db'}")
    archive.migrate()
    run = Run(archive, load_settings(), "r1", "1")
    with pytest.raises(ValueError, match="before it starts"):
        mark_for_rerender(run, date(2026, 11, 21), date(2026, 11, 20))
    assert archive.counts()["lw_pending_hours"] == 0
