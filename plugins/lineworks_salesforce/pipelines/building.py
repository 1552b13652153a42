"""Building: each pending (friend, hour) rendered as Tasks; only changed ones go to the outbox."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lineworks_salesforce.activities.keys import parse_activity_key, part_suffix, split_part
from lineworks_salesforce.activities.render import RenderSettings, render_activities
from lineworks_salesforce.directory import (
    match_name,
)
from lineworks_salesforce.links.lookup import fetch_links
from lineworks_salesforce.pipelines.common import (
    Run,
    SalesforceClient,
    _calls,
)
from lineworks_salesforce.talklog.people import parse_person, split_recipients


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
    links = fetch_links(run.archive, salesforce, contacts, run.settings.link_query_ids)
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
            # every key rendered now is current: a part (or an emptied hour's first key, queued by forget)
            # whose lines came back before the load ran must not be deleted
            run.archive.execute_many(
                "delete_stale_part", ({"activity_key": k} for k in result.payloads), conn
            )
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
