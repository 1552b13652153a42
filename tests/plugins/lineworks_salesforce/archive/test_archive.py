"""The archive's portable SQL on SQLite (always) and PostgreSQL (when a server is reachable)."""

from __future__ import annotations

import re
import socket
import uuid

import pytest
import sqlalchemy as sa

from lineworks_salesforce.archive import Archive, archive_url, statements

PG_HOST, PG_PORT = "127.0.0.1", 5432


def _postgres_available() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", "postgres"])
def archive(request, tmp_path):
    if request.param == "sqlite":
        yield Archive(f"sqlite:///{tmp_path / 'archive.db'}")
        return
    if not _postgres_available():
        pytest.skip(
            f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT} (CI has one; a fresh machine may not)"
        )
    admin = sa.create_engine(
        f"postgresql+psycopg2://postgres@{PG_HOST}:{PG_PORT}/postgres", isolation_level="AUTOCOMMIT"
    )
    name = f"lw_test_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    archive = Archive(archive_url("postgres", PG_HOST, "postgres", None, PG_PORT, name))
    yield archive
    archive.engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name}")


def _message(key: str, **overrides) -> dict:
    row = {
        "message_key": key,
        "domain_id": "1",
        "channel_id": "ch",
        "sent_at": "2026-11-20T00:00:00Z",
        "sender_raw": "はなちゃん",
        "sender_kind": "external",
        "sender_name": "はなちゃん",
        "sender_email": "",
        "recipients_raw": "山田 太郎 (taro@example.com)",
        "body": "こんにちは🍣",
        "content_kind": "text",
        "source": "a.csv",
        "run_id": "r1",
    }
    return {**row, **overrides}


def test_should_create_the_schema_twice_without_error(archive):
    archive.migrate()
    archive.migrate()
    assert archive.counts()["lw_messages"] == 0


def test_should_insert_each_message_once(archive):
    archive.migrate()
    archive.execute_many("insert_message", [_message("k1"), _message("k2")])
    archive.execute_many("insert_message", [_message("k2", body="changed", run_id="r2"), _message("k3")])
    rows = archive.query_raw("SELECT message_key, body, run_id FROM lw_messages ORDER BY message_key")
    assert [(r["message_key"], r["body"], r["run_id"]) for r in rows] == [
        ("k1", "こんにちは🍣", "r1"),
        ("k2", "こんにちは🍣", "r1"),
        ("k3", "こんにちは🍣", "r1"),
    ]


def test_should_keep_pending_hours_and_activities_idempotent(archive):
    archive.migrate()
    pending = [{"contact_id": "c1", "hour_bucket": "2026112009"}] * 3
    archive.execute_many("insert_pending", pending)
    assert archive.counts()["lw_pending_hours"] == 1
    row = {
        "activity_key": "LW-1-c1-2026112009",
        "contact_id": "c1",
        "hour_bucket": "2026112009",
        "content_hash": "h1",
        "sf_id": "00T000000000001AAA",
        "status": "created",
        "error_code": None,
        "error_message": None,
        "run_id": "r1",
    }
    archive.execute_many("upsert_activity", [row])
    archive.execute_many(
        "upsert_activity", [{**row, "content_hash": "h2", "sf_id": None, "status": "updated"}]
    )
    stored = archive.query_raw("SELECT content_hash, sf_id, status FROM lw_activities")
    assert stored == [{"content_hash": "h2", "sf_id": "00T000000000001AAA", "status": "updated"}]


def test_should_make_the_linked_hours_of_a_range_pending_once(archive):
    archive.migrate()
    links = [
        ("m1", "c1", "2026112009"),
        ("m2", "c1", "2026112009"),
        ("m3", "c2", "2026112023"),
        ("m4", "c1", "2026112100"),
    ]
    archive.execute_many(
        "insert_message_friend", [{"message_key": m, "contact_id": c, "hour_bucket": h} for m, c, h in links]
    )
    archive.execute_many("insert_pending", [{"contact_id": "c2", "hour_bucket": "2026112023"}])
    bounds = {"first_hour": "2026112000", "end_hour": "2026112100"}
    archive.execute_many("pending_hours_in_range", [bounds])
    archive.execute_many("pending_hours_in_range", [bounds])  # again: nothing doubles
    rows = archive.query_raw("SELECT contact_id, hour_bucket FROM lw_pending_hours ORDER BY contact_id")
    assert [(r["contact_id"], r["hour_bucket"]) for r in rows] == [("c1", "2026112009"), ("c2", "2026112023")]


def test_should_stream_query_results_in_frames(archive):
    archive.migrate()
    archive.execute_many("insert_message", [_message(f"k{i:05d}") for i in range(12_000)])
    sizes = [
        len(f)
        for f in archive.query_frames("messages_to_resolve", {"retry_since": "2026-01-01"}, chunksize=5000)
    ]
    assert sizes == [5000, 5000, 2000]


def test_should_never_split_a_friends_hour_across_frames(archive):
    # friend c1: 3 rows in hour 09, 4 in hour 10; friend c2: 1 row in hour 09; frames of 2 rows
    archive.migrate()
    hours = [("c1", "2026112009")] * 3 + [("c1", "2026112010")] * 4 + [("c2", "2026112009")]
    archive.execute_many(
        "insert_message",
        [_message(f"k{i}", sent_at=f"2026-11-20T00:0{i}:00Z") for i in range(len(hours))],
    )
    archive.execute_many(
        "insert_message_friend",
        [{"message_key": f"k{i}", "contact_id": c, "hour_bucket": h} for i, (c, h) in enumerate(hours)],
    )
    archive.execute_many("insert_pending", [{"contact_id": c, "hour_bucket": h} for c, h in set(hours)])
    frames = list(archive.query_groups("pending_messages", by=("contact_id", "hour_bucket"), chunksize=2))
    groups = [sorted(set(zip(f["contact_id"], f["hour_bucket"]))) for f in frames]
    assert groups == [[("c1", "2026112009")], [("c1", "2026112010")], [("c2", "2026112009")]]
    assert [len(f) for f in frames] == [3, 4, 1]  # a group larger than a chunk stays whole
    # every row once (within an hour in no particular order: the renderer sorts the lines)
    assert sorted(k for f in frames for k in f["message_key"]) == sorted(f"k{i}" for i in range(len(hours)))


def test_should_keep_split_hours_and_stale_parts(archive):
    archive.migrate()
    first = "LW-1-c1-2026112009"
    archive.execute_many("upsert_split_hour", [{"activity_key": first, "parts": 3}])
    archive.execute_many("upsert_split_hour", [{"activity_key": first, "parts": 2}])
    assert archive.query("split_hours") == [{"activity_key": first, "parts": 2}]
    loaded = {
        "activity_key": f"{first}-p2",
        "contact_id": "c1",
        "hour_bucket": "2026112009",
        "content_hash": "h",
        "sf_id": "00T000000000002AAA",
        "status": "created",
        "error_code": None,
        "error_message": None,
        "run_id": "r1",
    }
    archive.execute_many("upsert_activity", [loaded])
    stale = [{"activity_key": f"{first}-p3", "run_id": "r2"}, {"activity_key": f"{first}-p2", "run_id": "r2"}]
    archive.execute_many("insert_stale_part", stale + stale)  # listed once
    # with the Task's Id when Salesforce has it, without when the part was never loaded
    assert archive.query("stale_parts") == [
        {"activity_key": f"{first}-p2", "sf_id": "00T000000000002AAA"},
        {"activity_key": f"{first}-p3", "sf_id": None},
    ]
    assert archive.query_in("content_hashes_of", [f"{first}-p2", "nope"], batch=1) == [
        {"activity_key": f"{first}-p2", "content_hash": "h"}
    ]
    archive.execute_many("delete_activity", [{"activity_key": f"{first}-p2"}])
    archive.execute_many("delete_stale_part", [{"activity_key": r["activity_key"]} for r in stale])
    archive.execute_many("delete_split_hour", [{"activity_key": first}])
    counts = archive.counts()
    assert (counts["lw_activities"], counts["lw_stale_parts"], counts["lw_split_hours"]) == (0, 0, 0)


def test_should_retry_messages_with_open_resolution_issues(archive):
    archive.migrate()
    archive.execute_many(
        "insert_message",
        [_message(k, sent_at="2026-11-20T00:00:00Z") for k in ("partial", "done", "unresolved")],
    )
    archive.execute_many("set_resolution", [{"message_key": "partial", "resolution": "resolved"}])
    archive.execute_many("set_resolution", [{"message_key": "done", "resolution": "resolved"}])
    archive.execute_many("set_resolution", [{"message_key": "unresolved", "resolution": "unresolved"}])
    issue = {"participant": "ケン", "reason": "unknown_external", "run_id": "r1"}
    archive.execute_many("insert_resolution_issue", [{"message_key": "partial", **issue}])
    archive.execute_many(
        "insert_message_friend", [{"message_key": "partial", "contact_id": "c1", "hour_bucket": "h"}]
    )
    retried = [r["message_key"] for r in archive.query("messages_to_resolve", {"retry_since": "2026-11-19"})]
    assert retried == ["partial", "unresolved"]
    assert archive.query("messages_to_resolve", {"retry_since": "2026-11-21"}) == []  # out of the window
    assert archive.query_in("message_friends_of", ["partial", "done"]) == [
        {"message_key": "partial", "contact_id": "c1"}
    ]


def test_should_name_every_statement_of_the_sql_file():
    assert {
        "insert_message",
        "insert_quarantine",
        "pending_messages",
        "upsert_activity",
        "outbox_slice",
    } <= set(statements())


def test_should_build_urls_from_airflow_connections():
    assert archive_url("sqlite", "/tmp/a.db") == "sqlite:////tmp/a.db"
    assert (
        archive_url("postgres", "db", "u", "p@ss", 5432, "lw") == "postgresql+psycopg2://u:p%40ss@db:5432/lw"
    )
    with pytest.raises(ValueError, match="sqlite or postgres"):
        archive_url("mysql", "db")


# --- migrations -------------------------------------------------------------------------------------
def test_should_migrate_a_fresh_archive_to_the_latest_version_once(archive):
    from lineworks_salesforce.archive import migrations

    latest = len(migrations())
    assert archive.schema_version() == 0
    assert archive.migrate() == (0, latest)
    assert archive.schema_version() == latest
    archive.check_schema()  # current: no error
    assert archive.migrate() == (latest, latest)  # already current: nothing applied again
    [(rows,)] = _rows(archive, "SELECT COUNT(*) FROM lw_schema_version")
    assert rows == latest


def test_should_refuse_a_task_on_an_old_schema_naming_the_command(archive):
    from lineworks_salesforce.archive import ArchiveSchemaError

    with pytest.raises(
        ArchiveSchemaError,
        match=r"version 0, this code needs \d+: run `lineworks-salesforce archive migrate`",
    ):
        archive.check_schema()


def test_should_upgrade_an_archive_made_before_migrations_keeping_its_rows(archive):
    """The archive as the previous release made it (create_schema: no version table, no provenance tables)."""
    from lineworks_salesforce.archive import migrations

    old = migrations()[0][2]
    for table in ("lw_sources", "lw_message_sources"):
        old = re.sub(rf"CREATE TABLE IF NOT EXISTS {table} \(.*?\);", "", old, flags=re.S)
    old = re.sub(r"CREATE INDEX IF NOT EXISTS lw_message_sources_key[^;]*;", "", old)
    with archive.engine.begin() as conn:
        for statement in old.split(";"):
            if statement.strip() and not statement.strip().startswith("--") or "CREATE" in statement:
                conn.exec_driver_sql(statement)
    archive.execute_many("insert_message", [_message("k1")])
    assert archive.schema_version() == 0
    archive.migrate()
    archive.check_schema()
    assert archive.counts()["lw_messages"] == 1 and archive.counts()["lw_sources"] == 0


def test_should_refuse_an_archive_newer_than_the_code(archive):
    from lineworks_salesforce.archive import ArchiveSchemaError

    archive.migrate()
    with archive.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO lw_schema_version (version, name, applied_at) VALUES (999, 'x', 'now')"
        )
    with pytest.raises(ArchiveSchemaError, match="newer than this code"):
        archive.check_schema()
    with pytest.raises(ArchiveSchemaError, match="newer than this code"):
        archive.migrate()


def test_should_apply_each_migration_once_when_workers_race(archive):
    """Several tasks starting at once (the first task of concurrent runs): one applies, the others wait."""
    from concurrent.futures import ThreadPoolExecutor

    from lineworks_salesforce.archive import Archive, migrations

    racers = [Archive(archive.url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda a: a.migrate(), racers))
    finally:
        for racer in racers:
            racer.engine.dispose()
    latest = len(migrations())
    assert sorted(before for before, _ in results) == [0, latest, latest, latest]
    [(rows,)] = _rows(archive, "SELECT COUNT(*) FROM lw_schema_version")
    assert rows == latest


def _rows(archive, sql: str) -> list[tuple]:
    with archive.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]
