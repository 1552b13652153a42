"""The pipeline's steps against both sandboxes, without Airflow: how the work is cut never changes the result.

``build`` reads the archive in frames of ``build_chunk_rows`` rows and ``load`` sends the outbox in slices
of ``load_batch_records``: memory knobs. Whatever their values, each (friend, hour) is rendered from all
of its messages and each record reaches Salesforce exactly once.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest

from hooks.lineworks import LineWorksHook
from hooks.salesforce import SalesforceActivityHook
from pipeline_settings import load_settings
from sandbox.demo_org import register_friends, seed_reps
from talkarchive import Archive
from talkpipeline import Run, archive_file, build, load, refresh_directory, resolve

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
    archive.create_schema()
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


def test_should_load_every_record_once_in_slices(tenant, tmp_path, salesforce_sandbox):
    domain_id, csv_path = tenant
    run = _prepared(tmp_path, "sliced", domain_id, csv_path, load_batch_records=40)
    build(run, SalesforceActivityHook())
    outbox = _outbox(run)
    before = salesforce_sandbox.calls().get("collections.upsert", 0)

    result = load(run, SalesforceActivityHook())

    slices = -(-len(outbox) // 40)
    assert slices > 2
    assert salesforce_sandbox.calls()["collections.upsert"] - before == slices  # one call per slice ≤ 200
    assert (result["created"], result["rejected"], result["salesforce_calls"]) == (len(outbox), 0, slices)
    tasks = list(SalesforceActivityHook().query_records("SELECT ActivityKey__c, MessageCount__c FROM Task"))
    assert sorted(t["ActivityKey__c"] for t in tasks) == sorted(outbox)
    assert run.archive.counts()["lw_outbox"] == 0
    assert run.archive.counts()["lw_activities"] == len(outbox)
    assert load(run, SalesforceActivityHook())["salesforce_calls"] == 0


def test_should_load_bulk_slices_sent_ahead_exactly_once(
    tenant, tmp_path, salesforce_sandbox, salesforce_conn
):
    # every slice is a Bulk job, and the hook sends the next one before load stores the current one
    salesforce_conn(bulk_threshold=1, bulk_jobs_in_flight=3, backoff_base=0.01, bulk_poll_interval=0.05)
    domain_id, csv_path = tenant
    run = _prepared(tmp_path, "ahead", domain_id, csv_path, load_batch_records=60)
    build(run, SalesforceActivityHook())
    outbox = _outbox(run)

    result = load(run, SalesforceActivityHook())

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
