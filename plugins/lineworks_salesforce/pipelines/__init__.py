"""The talk-log pipeline's steps, independent of Airflow: archive → resolve → build → load (DESIGN §1).

Every way a message enters — scheduled run, backfill, range import, file import — calls these same
functions, so keys and results are the same whichever path saw a message first. The steps talk to
LINE WORKS and Salesforce through the objects they are given (the hooks in production and tests).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from lineworks_salesforce.activities.keys import parse_activity_key, part_suffix, split_part
from lineworks_salesforce.activities.render import LINK_COLUMNS, RenderSettings, render_activities
from lineworks_salesforce.archive import Archive
from lineworks_salesforce.directory import (
    Friend,
    Member,
    Resolver,
    friend_from_contact,
    match_name,
    member_from_user,
)
from lineworks_salesforce.salesforce_model.soql import soql_in_chunks
from lineworks_salesforce.settings import Settings
from lineworks_salesforce.talklog.csvparse import ParseSettings, parse_message_csv
from lineworks_salesforce.talklog.keys import hour_bucket
from lineworks_salesforce.talklog.people import parse_person, split_recipients
from lineworks_salesforce.talklog.provenance import file_sha256

_log = logging.getLogger(__name__)


class LineWorksClient(Protocol):
    def list_users(self) -> Any: ...
    def list_friends(self) -> Any: ...


class SalesforceClient(Protocol):
    budget: Any  # .spent: API calls this client has made (hooks.salesforce.ApiBudget)

    def query_batch(self, queries: list[str]) -> list[list[dict[str, Any]]]: ...  # records per query
    def upsert_activity_batches(
        self, batches: Iterable[list[dict]], key_field: str = ...
    ) -> Iterator[Any]: ...  # one report per batch, in order
    def delete_records(self, ids: list[str]) -> list[Any]: ...  # RecordResult per id: deleted | rejected


@dataclass(frozen=True)
class Run:
    """What every step needs: the archive, the settings, the run's id and the LINE WORKS domain."""

    archive: Archive
    settings: Settings
    run_id: str
    domain_id: str

    def hours(self, ts: pd.Series) -> pd.Series:
        """The org-local hour of each instant as ``YYYYMMDDHH`` (the archive's hour buckets)."""
        # a few hundred distinct hours among many instants: each is formatted once
        codes, hours = pd.factorize(hour_bucket(ts, self.settings.timezone), use_na_sentinel=False)
        labels = np.asarray(hours.strftime("%Y%m%d%H"), dtype=object)
        return pd.Series(labels[codes], index=ts.index, dtype=object)


# --- archive ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """Where archived lines came from (provenance): a Monitoring download window or an imported file.

    ``source_id`` is ``monitoring:<from>-<to>`` (UTC) or ``file:<sha256>``: the same file imported twice
    is one source, and ``lineworks-salesforce archive forget --source <sha256>`` removes its lines again.
    """

    kind: str  # monitoring | file
    name: str
    sha256: str
    window_start: datetime | None = None
    window_end: datetime | None = None
    triggered_by: str | None = None

    @classmethod
    def monitoring(cls, start: datetime, end: datetime, name: str, sha256: str) -> Source:
        return cls("monitoring", name, sha256, start, end)

    @classmethod
    def file(cls, name: str, sha256: str, triggered_by: str | None = None) -> Source:
        return cls("file", name, sha256, triggered_by=triggered_by)

    @property
    def source_id(self) -> str:
        if self.kind == "file":
            return f"file:{self.sha256}"
        return f"monitoring:{_utc_stamp(self.window_start)}-{_utc_stamp(self.window_end)}"

    def describe(self) -> dict[str, Any]:
        """What the run summary shows of it (names and hashes, never content)."""
        out: dict[str, Any] = {"source_id": self.source_id, "kind": self.kind, "name": self.name}
        if self.kind == "file":
            out.update(sha256=self.sha256, triggered_by=self.triggered_by)
        else:
            out.update(window=[_iso_dt(self.window_start), _iso_dt(self.window_end)], sha256=self.sha256)
        return out


def archive_file(run: Run, path: str | Path, source: Source | None = None) -> dict[str, Any]:
    """Parse a staged message-contents CSV into the archive; malformed rows go to quarantine.

    ``source`` records where the file came from; without one it is a file import of ``path`` itself
    (its name and SHA-256). The lines of a file import are remembered per file, so they can be listed
    and forgotten again (:func:`forget_source`).
    """
    if source is None:
        source = Source.file(Path(path).name, file_sha256(path))
    source_id = source.source_id
    run.archive.execute_many(
        "upsert_source",
        [
            {
                "source_id": source_id,
                "kind": source.kind,
                "name": source.name,
                "sha256": source.sha256,
                "window_start": _iso_dt(source.window_start),
                "window_end": _iso_dt(source.window_end),
                "triggered_by": source.triggered_by,
                "run_id": run.run_id,
                "archived_at": _iso_one(pd.Timestamp.now(tz="UTC")),
            }
        ],
    )
    settings = ParseSettings(
        timezone=run.settings.timezone,
        recipient_separator=run.settings.csv_recipient_separator,
        domain_id=run.domain_id,
    )
    rows = new = 0
    quarantined: Counter[str] = Counter()
    for chunk in parse_message_csv(path, settings, source=source_id):
        messages = chunk.messages
        rows += len(messages) + len(chunk.quarantined)
        if not messages.empty:
            frame = messages.assign(
                sent_at=_iso(messages["sent_at"]), body=messages["text"], run_id=run.run_id, source=source_id
            )
            before = _count(run, "message_count")
            with run.archive.transaction() as conn:
                run.archive.execute_many(
                    "insert_message",
                    _records(
                        frame,
                        [
                            "message_key",
                            "domain_id",
                            "channel_id",
                            "sent_at",
                            "sender_raw",
                            "sender_kind",
                            "sender_name",
                            "sender_email",
                            "recipients_raw",
                            "body",
                            "content_kind",
                            "source",
                            "run_id",
                        ],
                    ),
                    conn,
                )
                if source.kind == "file":
                    run.archive.execute_many(
                        "insert_message_source",
                        ({"source_id": source_id, "message_key": k} for k in messages["message_key"]),
                        conn,
                    )
            new += _count(run, "message_count") - before
        if not chunk.quarantined.empty:
            q = chunk.quarantined.assign(run_id=run.run_id, source=source_id)
            run.archive.execute_many(
                "insert_quarantine",
                _records(q, ["source", "row_number", "reason", "raw", "detail", "run_id"]),
            )
            quarantined.update(chunk.quarantined["reason"].tolist())
    return {"rows": rows, "new_messages": new, "quarantined": dict(quarantined), "source": source.describe()}


def list_sources(archive: Archive, kind: str | None = None) -> list[dict[str, Any]]:
    """Every source the archive holds lines of (oldest first), with its counts."""
    return archive.query("list_sources", {"kind": kind})


def source_lines(archive: Archive, source_id: str) -> list[dict[str, Any]]:
    """The messages an imported file delivered; ``own`` when the file is where they came from first."""
    return archive.query("source_lines", {"source_id": source_id})


def find_source(archive: Archive, sha256_or_id: str) -> dict[str, Any]:
    """The file source whose SHA-256 (or id ``file:<sha256>``) is given; ``LookupError`` when none."""
    text = sha256_or_id.strip().lower()
    sha = text[len("file:") :] if text.startswith("file:") else text
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ValueError("--source: expected the file's SHA-256 (64 hexadecimal digits)")
    for row in list_sources(archive, "file"):
        if row["source_id"] == f"file:{sha}":
            return row
    raise LookupError(f"--source: no imported file with SHA-256 {sha} in the archive")


def forget_source(archive: Archive, source_id: str, run_id: str) -> dict[str, int]:
    """Remove the lines an imported file brought; the hours they were in are rendered again.

    A message another source also delivered stays (a Monitoring download, or another imported file).
    Hours that still hold messages become pending (the next ``build`` renders them without the file's
    lines, only changed Tasks are updated); the Tasks of hours left empty are deleted by the next ``load``.
    """
    if not source_id.startswith("file:"):
        raise ValueError("only imported files can be forgotten (Monitoring downloads are the record)")
    params = {"source_id": source_id}
    with archive.transaction() as conn:
        archive.execute_many("forget_reassign", [params], conn)
        hours = archive.query("forget_hours", params, conn)
        forgotten = archive.query("source_counts", params, conn)[0]
        for statement in ("forget_message_friends", "forget_resolution_issues", "forget_messages"):
            archive.execute_many(statement, [params], conn)
        for statement in ("forget_message_sources", "forget_quarantine", "forget_source"):
            archive.execute_many(statement, [params], conn)
        emptied = [h for h in hours if archive.query("hour_message_count", h, conn)[0]["n"] == 0]
        kept = [h for h in hours if h not in emptied]
        archive.execute_many("insert_pending", kept, conn)
        stale = [r for h in emptied for r in archive.query("hour_activities", h, conn)]
        archive.execute_many("delete_pending", emptied, conn)
        archive.execute_many("delete_outbox_hour", emptied, conn)
        archive.execute_many("insert_stale_part", ({**r, "run_id": run_id} for r in stale), conn)
        archive.execute_many("delete_split_hour", stale, conn)
    return {
        "messages_removed": int(forgotten["messages"]),
        "quarantined_removed": int(forgotten["quarantined"]),
        "hours_rerendered": len(kept),
        "tasks_to_delete": len(stale),
    }


# --- resolve --------------------------------------------------------------------------------------------
def refresh_directory(run: Run, lineworks: LineWorksClient) -> dict[str, int]:
    """Cache members (``list_users``) and LINE friends (``list_friends``) in the archive."""
    members = [member_from_user(u) for u in lineworks.list_users()]
    friends = [f for f in (friend_from_contact(c) for c in lineworks.list_friends()) if f is not None]
    store_directory(run, members, friends)
    return {"members": len(members), "friends": len(friends)}


def store_directory(run: Run, members: list[Member], friends: list[Friend]) -> None:
    """Upsert members and LINE friends into the archive's directory cache, in one transaction."""
    with run.archive.transaction() as conn:
        run.archive.execute_many(
            "upsert_member",
            ({"user_id": m.user_id, "email": m.email, "display_name": m.display_name} for m in members),
            conn,
        )
        run.archive.execute_many(
            "upsert_friend",
            (
                {
                    "contact_id": f.contact_id,
                    "display_name": f.display_name,
                    "match_name": match_name(f.display_name),
                    "master_user_id": f.master_user_id,
                }
                for f in friends
            ),
            conn,
        )


def resolve(run: Run) -> dict[str, Any]:
    """Resolve new (and recently unresolved) messages; mark the (friend, hour)s they touch as pending."""
    members = [Member(**r) for r in run.archive.query("members")]
    friends = [Friend(**r) for r in run.archive.query("friends")]
    resolver = Resolver(
        members,
        friends,
        separator=run.settings.csv_recipient_separator,
        exclude_bots=run.settings.exclude_bots,
    )
    retry_since = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=run.settings.retry_unresolved_days)
    totals: Counter[str] = Counter()
    issues: Counter[str] = Counter()
    for frame in run.archive.query_frames("messages_to_resolve", {"retry_since": _iso_one(retry_since)}):
        result = resolver.resolve(frame, run.hours)
        with run.archive.transaction() as conn:
            # in the frame's (sent_at) order, usually the order rows were archived in: neighbouring updates
            # touch neighbouring pages of the table and of its (resolution, sent_at) index (key order
            # touched the table's pages at random: 16 s instead of 9 s for 1 M messages on SQLite)
            run.archive.execute_many("set_resolution", result.statuses, conn)
            # only a message resolved before (a retry) can have issues to clear
            retried = frame.loc[frame["resolution"] != "new", "message_key"]
            run.archive.execute_many("clear_resolution_issue", ({"message_key": k} for k in retried), conn)
            run.archive.execute_many(
                "insert_resolution_issue", ({**i, "run_id": run.run_id} for i in result.issues), conn
            )
            # a retried message keeps the friends it was linked to: only new links make an hour pending
            known = {
                (r["message_key"], r["contact_id"])
                for r in run.archive.query_in("message_friends_of", retried.tolist(), conn)
            }
            links = sorted(
                (link for link in result.links if (link["message_key"], link["contact_id"]) not in known),
                key=lambda link: (link["message_key"], link["contact_id"]),
            )
            run.archive.execute_many("insert_message_friend", links, conn)
            touched = dict.fromkeys((link["contact_id"], link["hour_bucket"]) for link in links)
            run.archive.execute_many(
                "insert_pending", ({"contact_id": c, "hour_bucket": h} for c, h in sorted(touched)), conn
            )
        totals.update(s["resolution"] for s in result.statuses)
        issues.update(i["reason"] for i in result.issues)
    return {"resolution": dict(totals), "issues": dict(issues)}


HISTORY_MODES = ("range", "file", "rerender")
# No LINE WORKS tenant has talk logs before this (and a date before it is a typo)
EARLIEST_HISTORY_DAY = date(2010, 1, 1)


class HistoryFormError(ValueError):
    """A ``lineworks_history_import`` form value is wrong; ``field`` names it. Retrying cannot fix it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


@dataclass(frozen=True)
class HistoryRequest:
    """What a ``lineworks_history_import`` trigger asks for: a date range (org-local days, both
    included) for ``range`` and ``rerender``, a file name inside the import location for ``file``."""

    mode: str
    first_day: date | None = None
    last_day: date | None = None
    file: str = ""


def history_request(
    params: dict[str, Any],
    *,
    max_days: int = 400,
    file_import_enabled: bool = True,
    today: date | None = None,
) -> HistoryRequest:
    """The trigger form's values, checked before anything runs.

    :raises HistoryFormError: (or :class:`~lineworks_salesforce.pipelines.file_import.ImportRefused` for
    the file name,
        both ``ValueError``) naming the field - an unknown mode, file mode switched off, a file name
        that is empty or leaves the import location, a date that is not a calendar date ``YYYY-MM-DD``
        between 2010-01-01 and tomorrow, a range that ends before it starts or is longer than
        ``max_days`` (setting ``import_max_days``). Messages never echo what was typed.
    """
    if not isinstance(params, dict):
        raise HistoryFormError("params", "expected the trigger form's fields")
    mode = params.get("mode")
    if mode not in HISTORY_MODES:
        raise HistoryFormError("mode", f"expected one of {', '.join(HISTORY_MODES)}")
    if mode == "file":
        if not file_import_enabled:
            raise HistoryFormError("mode", "file imports are switched off (setting file_import_enabled)")
        from lineworks_salesforce.pipelines.file_import import (
            import_name,  # its ImportRefused names the field too
        )

        return HistoryRequest(mode, file=str(import_name(params.get("file"))))
    latest = (today or date.today()) + timedelta(days=1)
    days = {}
    for name in ("start", "end"):
        value = params.get(name)
        text = value if isinstance(value, str) else ""
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                raise ValueError
            days[name] = date.fromisoformat(text)
        except ValueError:
            shown = f"{len(value)} characters" if isinstance(value, str) else type(value).__name__
            raise HistoryFormError(name, f"expected a calendar date YYYY-MM-DD, got {shown}") from None
        if not EARLIEST_HISTORY_DAY <= days[name] <= latest:
            raise HistoryFormError(name, f"expected a date between {EARLIEST_HISTORY_DAY} and {latest}")
    if days["end"] < days["start"]:
        raise HistoryFormError("end", f"the range ends ({days['end']}) before it starts ({days['start']})")
    length = (days["end"] - days["start"]).days + 1
    if length > max_days:
        raise HistoryFormError(
            "end", f"the range has {length} days, more than import_max_days ({max_days}); import it in parts"
        )
    return HistoryRequest(mode, days["start"], days["end"])


def mark_for_rerender(run: Run, first_day: date, last_day: date) -> dict[str, int]:
    """Make every linked (friend, hour) of the org's local dates ``first_day``–``last_day`` pending.

    After a change of what a Task looks like (``redact_patterns``, ``subject_template``, a friend's name),
    the next ``build`` renders those hours again with the current settings; only the records whose
    content changed go to Salesforce. Returns the number of pending hours afterwards.
    """
    if last_day < first_day:
        raise ValueError(f"the range ends ({last_day}) before it starts ({first_day})")
    bounds = {"first_hour": f"{first_day:%Y%m%d}00", "end_hour": f"{last_day + timedelta(days=1):%Y%m%d}00"}
    run.archive.execute_many("pending_hours_in_range", [bounds])
    return {"pending_hours": _count(run, "pending_hour_count")}


# --- build ------------------------------------------------------------------------------------------------
def build(run: Run, salesforce: SalesforceClient) -> dict[str, Any]:
    """Render every pending (friend, hour) of linked friends; changed records go to the outbox.

    Hours of friends not registered in Salesforce yet stay pending, so the first run after the rep
    registers them loads their whole history.
    """
    contacts = [r["contact_id"] for r in run.archive.query("pending_contacts")]
    if not contacts:
        return {
            "pending_friends": 0,
            "rendered": 0,
            "changed": 0,
            "unchanged": 0,
            "waiting_friends": 0,
            "salesforce_calls": 0,
        }
    links = fetch_links(run, salesforce, contacts)
    labels = _Labels(_labels(run), run.settings.csv_recipient_separator)
    split = {r["activity_key"]: r["parts"] for r in run.archive.query("split_hours")}
    rendered = changed = unchanged = stale_parts = 0
    waiting: set[str] = set()
    render_settings = RenderSettings(
        domain_id=run.domain_id,
        timezone=run.settings.timezone,
        subject_template=run.settings.subject_template,
        redact_patterns=tuple(run.settings.redact_patterns),
    )
    # whole (friend, hour)s per frame: an hour split across two frames would be rendered twice, half each time
    for frame in run.archive.query_groups(
        "pending_messages", by=("contact_id", "hour_bucket"), chunksize=run.settings.build_chunk_rows
    ):
        messages = _render_input(frame, labels)
        result = render_activities(messages, links, render_settings)
        waiting.update(result.unlinked["contact_id"].unique().tolist() if not result.unlinked.empty else [])
        stored = _stored_hashes(run, list(result.hashes))
        outbox = []
        for key, payload in result.payloads.items():
            rendered += 1
            if stored.get(key) == result.hashes[key]:
                unchanged += 1
                continue
            changed += 1
            parsed = parse_activity_key(key)
            contact_id, hour_bucket = parsed.contact_id, parsed.hour
            outbox.append(
                {
                    "activity_key": key,
                    "contact_id": contact_id,
                    "hour_bucket": hour_bucket,
                    "content_hash": result.hashes[key],
                    "record": payload,
                }
            )
        parts = _parts_changes(split, result.payloads)
        stale_parts += len(parts.stale)
        done = frame[~frame["contact_id"].isin(waiting)][["contact_id", "hour_bucket"]].drop_duplicates()
        with run.archive.transaction() as conn:
            run.archive.execute_many("upsert_outbox", outbox, conn)
            run.archive.execute_many("delete_pending", done.to_dict("records"), conn)
            run.archive.execute_many("upsert_split_hour", parts.split, conn)
            run.archive.execute_many("delete_split_hour", parts.unsplit, conn)
            # a stale part not loaded yet is dropped from the outbox; one Salesforce has is deleted by load
            run.archive.execute_many("delete_outbox", parts.stale, conn)
            run.archive.execute_many(
                "insert_stale_part", ({**r, "run_id": run.run_id} for r in parts.stale), conn
            )
            run.archive.execute_many("delete_stale_part", parts.current, conn)
    return {
        "pending_friends": len(contacts),
        "rendered": rendered,
        "changed": changed,
        "unchanged": unchanged,
        "stale_parts": stale_parts,
        "waiting_friends": len(waiting),
        "salesforce_calls": _calls(salesforce),
    }


@dataclass
class _PartsChanges:
    split: list[dict[str, Any]]  # hours now in more parts than before: (first key, parts)
    unsplit: list[dict[str, Any]]  # hours split before, in one part now
    stale: list[dict[str, Any]]  # parts an hour had and no longer has
    current: list[dict[str, Any]]  # parts ≥ 2 rendered now (no longer stale if they were)


def _parts_changes(split: dict[str, int], keys: Iterable[str]) -> _PartsChanges:
    """Compare the parts rendered now (``keys``, in part order per hour) with ``split`` (updated in place).

    ``split`` maps the first key of each hour last rendered in more than one part to its parts; a
    description that got shorter (a redaction pattern added, a name changed) can need fewer parts, and
    the parts it no longer has must not stay in Salesforce with text that is now in an earlier part.
    """
    now: dict[str, int] = {}
    firsts: list[str] = []
    for key in keys:
        first, part = split_part(key)
        if part == 1:
            firsts.append(first)
        else:
            now[first] = part
    out = _PartsChanges([], [], [], [])
    for first in firsts:
        before, parts = split.get(first, 1), now.get(first, 1)
        if parts == before:
            continue
        out.stale += [{"activity_key": first + part_suffix(p)} for p in range(parts + 1, before + 1)]
        if parts > 1:
            split[first] = parts
            out.split.append({"activity_key": first, "parts": parts})
        else:
            del split[first]
            out.unsplit.append({"activity_key": first})
    out.current = [
        {"activity_key": first + part_suffix(p)} for first, n in now.items() for p in range(2, n + 1)
    ]
    return out


def fetch_links(run: Run, salesforce: SalesforceClient, contact_ids: list[str]) -> pd.DataFrame:
    """Salesforce's side of each friend: its 社外連絡先, the record it is linked to, and the rep's user.

    One :meth:`query_batch` (Composite: 5 queries per API call): the active users, then the
    ExternalContact__c of ``link_query_ids`` friends per query (fewer when their ids would make the
    query's url longer than the REST URI limit).
    """
    members = {r["user_id"]: r for r in run.archive.query("members")}
    masters = {r["contact_id"]: r["master_user_id"] for r in run.archive.query("friends")}
    queries = [
        "SELECT Id, Email, LineWorksUserId__c FROM User WHERE IsActive = TRUE",
        *soql_in_chunks(
            "SELECT Id, LineWorksContactId__c, Lead__c, Contact__c, Account__c, Account__r.PersonContactId, "
            "Account__r.IsPersonAccount FROM ExternalContact__c WHERE LineWorksContactId__c IN {ids}",
            "ids",
            contact_ids,
            max_values=run.settings.link_query_ids,
        ),
    ]
    users, *external_contacts = salesforce.query_batch(queries)
    by_lw_id = {u["LineWorksUserId__c"]: u["Id"] for u in users if u.get("LineWorksUserId__c")}
    by_email = {(u.get("Email") or "").lower(): u["Id"] for u in users if u.get("Email")}
    rows = []
    for ec in (ec for page in external_contacts for ec in page):
        account = ec.get("Account__r") or {}
        person = bool(account.get("IsPersonAccount"))
        master = masters.get(ec["LineWorksContactId__c"])
        member = members.get(master) or {}
        owner = by_lw_id.get(master) or by_email.get((member.get("email") or "").lower())
        rows.append(
            {
                "contact_id": ec["LineWorksContactId__c"],
                "external_contact_id": ec["Id"],
                "lead_id": ec.get("Lead__c"),
                "contact_sf_id": ec.get("Contact__c"),
                # 個人取引先連携 only: a business Account is not a valid WhoId target
                "account_id": ec.get("Account__c") if person else None,
                "person_contact_id": account.get("PersonContactId") if person else None,
                "owner_user_id": owner,
            }
        )
    return (
        pd.DataFrame(rows, columns=["contact_id", *LINK_COLUMNS])
        .drop_duplicates("contact_id")
        .set_index("contact_id")
    )


# --- load -------------------------------------------------------------------------------------------------
def load(run: Run, salesforce: SalesforceClient) -> dict[str, Any]:
    """Upsert the outbox in slices; store Salesforce ids, hashes and rejections; empty the outbox.

    Each slice of ``load_batch_records`` records is one batch of ``upsert_activity_batches`` (one Bulk
    API 2.0 job when it is large) and one archive transaction, so memory stays bounded however large the
    outbox is (a history import) and a killed task keeps the slices it finished. The hook sends the next
    slice before this step stores the current one, so Salesforce works while the archive is written.

    First, the Tasks of parts an hour no longer has (``build``'s stale parts) are deleted.
    """
    totals: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    totals.update(_delete_stale_parts(run, salesforce))
    slices = 0
    org_seconds = wait_seconds = 0.0
    outboxes: list[list[dict[str, Any]]] = []  # slices read and sent, not stored yet (in order)

    def batches() -> Iterator[list[dict]]:
        after = ""
        while outbox := run.archive.query(
            "outbox_slice", {"after": after, "limit": run.settings.load_batch_records}
        ):
            outboxes.append(outbox)
            after = outbox[-1]["activity_key"]
            yield [json.loads(r["record"]) for r in outbox]

    for report in salesforce.upsert_activity_batches(batches(), key_field="ActivityKey__c"):
        outbox = outboxes.pop(0)
        rows = []
        for r in outbox:
            result = report.results[r["activity_key"]]
            rows.append(
                {
                    "activity_key": r["activity_key"],
                    "contact_id": r["contact_id"],
                    "hour_bucket": r["hour_bucket"],
                    "content_hash": r["content_hash"],
                    "sf_id": result.id,
                    "status": result.status,
                    "error_code": result.error_code,
                    "error_message": result.message,
                    "run_id": run.run_id,
                }
            )
        with run.archive.transaction() as conn:
            run.archive.execute_many("upsert_activity", rows, conn)
            run.archive.execute_many(
                "delete_outbox", ({"activity_key": r["activity_key"]} for r in outbox), conn
            )
        slices += 1
        totals.update(r["status"] for r in rows)
        totals["salesforce_calls"] += report.api_calls
        org_seconds += report.bulk_processing_seconds
        wait_seconds += report.bulk_poll_wait_seconds
        rejected.update(r["error_code"] for r in rows if r["status"] == "rejected")
        if slices > 1 or len(outbox) == run.settings.load_batch_records:
            _log.info("load: slice %d done (%d records, %s)", slices, len(outbox), report.summary())
    return {
        "created": totals["created"],
        "updated": totals["updated"],
        "rejected": totals["rejected"],
        "deleted": totals["deleted"],
        "delete_refused": totals["delete_refused"],
        "salesforce_calls": totals["salesforce_calls"],
        "rejected_codes": dict(rejected),
        "slices": slices,
        "bulk_processing_seconds": round(org_seconds, 1),  # as Salesforce reports it
        "bulk_poll_wait_seconds": round(wait_seconds, 1),
    }


def _delete_stale_parts(run: Run, salesforce: SalesforceClient) -> Counter[str]:
    """Delete the Tasks of stale parts; a part whose Task is gone leaves the archive in one transaction.

    A part that never reached Salesforce (no Id stored) just leaves the list. A refused delete stays on
    it, counted as ``delete_refused`` (its code in the log), and is tried again by the next load.
    """
    stale = run.archive.query("stale_parts")
    if not stale:
        return Counter()
    calls = _calls(salesforce)
    ids = [r["sf_id"] for r in stale if r["sf_id"]]
    results = {r.key: r for r in salesforce.delete_records(ids)} if ids else {}
    gone = [{"activity_key": r["activity_key"]} for r in stale if not r["sf_id"] or results[r["sf_id"]].ok]
    refused = [results[i] for i in ids if not results[i].ok]
    with run.archive.transaction() as conn:
        run.archive.execute_many("delete_activity", gone, conn)
        run.archive.execute_many("delete_stale_part", gone, conn)
    if refused:
        codes = Counter(r.error_code for r in refused)
        _log.warning("load: %d stale part(s) could not be deleted: %s", len(refused), dict(codes))
    _log.info("load: %d stale part(s) deleted", len(gone))
    return Counter(
        {"deleted": len(gone), "delete_refused": len(refused), "salesforce_calls": _calls(salesforce) - calls}
    )


# --- helpers -------------------------------------------------------------------------------------------
def _labels(run: Run) -> dict[str, dict[str, str]]:
    members = {r["email"]: r["display_name"] for r in run.archive.query("members")}
    friends = {match_name(r["display_name"]): r["display_name"] for r in run.archive.query("friends")}
    return {"members": members, "friends": friends}


def _label(cell: str, labels: dict[str, dict[str, str]]) -> str:
    person = parse_person(cell)
    if person.kind == "member":
        return labels["members"].get(person.email, person.name or person.email)
    if person.kind == "external":
        return labels["friends"].get(match_name(person.name), person.name)
    return person.name or "Bot"


class _Labels:
    """How the lines name people (``送信者 → 受信者``), each distinct cell worked out once per step."""

    def __init__(self, labels: dict[str, dict[str, str]], separator: str) -> None:
        known = set(labels["friends"].values())
        self.sender = functools.cache(lambda cell: (_label(cell, labels),))

        def recipients(cell: str) -> tuple[str, bool]:
            cells = split_recipients(cell, separator, known)
            return "、".join(self.sender(c)[0] for c in cells), len(cells) > 1

        self.recipients = functools.cache(recipients)


def _render_input(frame: pd.DataFrame, labels: _Labels) -> pd.DataFrame:
    """Archive rows (one per message and friend) → the renderer's input columns."""
    (senders,) = _per_cell(frame["sender_raw"], labels.sender, 1)
    recipient_labels, is_group = _per_cell(frame["recipients_raw"], labels.recipients, 2)
    return pd.DataFrame(
        {
            "message_key": frame["message_key"],
            "sent_at": pd.to_datetime(frame["sent_at"], utc=True),
            "channel_id": frame["channel_id"],
            "contact_id": frame["contact_id"],
            "sender_label": senders,
            "recipient_labels": recipient_labels,
            "text": frame["body"],
            "content_kind": frame["content_kind"],
            "is_group": is_group.astype(bool),
        },
        index=frame.index,
    )


def _per_cell(column: pd.Series, fn: Callable[[Any], tuple], width: int) -> list[np.ndarray]:
    """``fn`` (a ``width``-tuple) of every cell of ``column``, computed once per distinct cell."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    values = [fn(cell) for cell in uniques.tolist()]
    return [np.array([v[i] for v in values], dtype=object)[codes] for i in range(width)]


def _stored_hashes(run: Run, keys: list[str]) -> dict[str, str]:
    return {r["activity_key"]: r["content_hash"] for r in run.archive.query_in("content_hashes_of", keys)}


def _iso(series: pd.Series) -> pd.Series:
    return series.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_one(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_dt(moment: datetime | None) -> str | None:
    return None if moment is None else _iso_one(pd.Timestamp(moment))


def _utc_stamp(moment: datetime | None) -> str:
    return pd.Timestamp(moment).tz_convert("UTC").strftime("%Y%m%dT%H%M%SZ")


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    return frame[columns].to_dict("records")


def _calls(salesforce: SalesforceClient) -> int:
    return int(salesforce.budget.spent)


def _count(run: Run, statement: str) -> int:
    """The single number a counting statement of ``archive.sql`` returns."""
    return int(next(iter(run.archive.query(statement)[0].values())))
