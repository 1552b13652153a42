"""The resolve step over the archive: retries of messages whose participants were not all found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lineworks_salesforce.archive import Archive
from lineworks_salesforce.directory import Friend, Member
from lineworks_salesforce.pipelines import Run, archive_file, resolve, store_directory
from lineworks_salesforce.settings import load_settings

TARO = Member("u-taro", "taro@example.com", "山田 太郎")
HANA = Friend("c-hana", "はなちゃん", "u-taro")
KEN = Friend("c-ken", "ケン", "u-taro")


@pytest.fixture
def run(tmp_path) -> Run:
    archive = Archive(f"sqlite:///{tmp_path / 'archive.db'}")
    archive.migrate()
    return Run(archive=archive, settings=load_settings(), run_id="resolve", domain_id="40029600")


def _links(run: Run) -> set[tuple[str, str]]:
    rows = run.archive.query_raw("SELECT message_key, contact_id FROM lw_message_friends")
    return {(r["message_key"][:6], r["contact_id"]) for r in rows}


def _pending(run: Run) -> set[str]:
    return {r["contact_id"] for r in run.archive.query_raw("SELECT contact_id FROM lw_pending_hours")}


def _group_talk_with_one_friend_known(run: Run, tmp_path, age: timedelta) -> None:
    """A group talk with two LINE users, sent ``age`` ago; only はなちゃん is in the directory."""
    sent = (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = tmp_path / "talk.csv"
    path.write_text(
        "日時,送信者,受信者,チャンネルID,トーク\n"
        f'{sent},山田 太郎 (taro@example.com),"はなちゃん, ケン",ch-1,見積書を送ります\n',
        encoding="utf-8",
    )
    archive_file(run, path)
    store_directory(run, [TARO], [HANA])


def test_should_link_a_group_friend_found_later_and_make_only_its_hour_pending(run, tmp_path):
    _group_talk_with_one_friend_known(run, tmp_path, timedelta(hours=2))

    first = resolve(run)
    assert first["resolution"] == {"resolved": 1} and first["issues"] == {"unknown_external": 1}
    assert {c for _, c in _links(run)} == {"c-hana"}
    assert _pending(run) == {"c-hana"}
    with run.archive.transaction() as conn:  # build rendered はなちゃん's hour
        conn.exec_driver_sql("DELETE FROM lw_pending_hours")

    store_directory(run, [TARO], [HANA, KEN])  # the rep adds ケン as a contact
    second = resolve(run)
    assert second["resolution"] == {"resolved": 1} and second["issues"] == {}
    assert {c for _, c in _links(run)} == {"c-hana", "c-ken"}
    assert _pending(run) == {"c-ken"}  # はなちゃん's hour is not rendered again for nothing
    assert run.archive.counts()["lw_resolution_issues"] == 0

    # nothing left to retry
    assert resolve(run) == {"resolution": {}, "issues": {}}


def test_should_not_retry_a_partly_resolved_message_after_the_retry_window(run, tmp_path):
    _group_talk_with_one_friend_known(run, tmp_path, timedelta(days=30))
    assert resolve(run)["issues"] == {"unknown_external": 1}
    store_directory(run, [TARO], [HANA, KEN])
    assert resolve(run) == {"resolution": {}, "issues": {}}  # retry_unresolved_days (7) has passed
    assert {c for _, c in _links(run)} == {"c-hana"}
