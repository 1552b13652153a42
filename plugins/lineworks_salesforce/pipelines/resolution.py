"""Resolution: members and LINE friends from LINE WORKS; who each new message is with."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

from lineworks_salesforce.directory import (
    Friend,
    Member,
    Resolver,
    friend_from_contact,
    match_name,
    member_from_user,
)
from lineworks_salesforce.pipelines.common import (
    LineWorksClient,
    Run,
    _iso_one,
)


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
                    "line_user_id": f.line_user_id,
                    "buddy_user_ids": " ".join(f.buddy_user_ids),
                }
                for f in friends
            ),
            conn,
        )


def resolve(run: Run) -> dict[str, Any]:
    """Resolve new (and recently unresolved) messages; mark the (friend, hour)s they touch as pending."""
    members = [Member(**r) for r in run.archive.query("members")]
    friends = [
        Friend(**{**r, "buddy_user_ids": tuple((r["buddy_user_ids"] or "").split())})
        for r in run.archive.query("friends")
    ]
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
