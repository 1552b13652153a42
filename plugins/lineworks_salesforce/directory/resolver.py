"""Resolving a talk's participants to members and LINE friends (see the package docstring)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lineworks_salesforce.directory.people import Friend, Member, match_name
from lineworks_salesforce.talklog.people import parse_person, split_recipients


@dataclass
class Resolution:
    """Per message: its status, the friends it belongs to, and what could not be resolved."""

    statuses: list[dict] = field(default_factory=list)  # message_key, resolution
    links: list[dict] = field(default_factory=list)  # message_key, contact_id, hour_bucket
    issues: list[dict] = field(default_factory=list)  # message_key, participant, reason

    def count(self, status: str) -> int:
        return sum(1 for s in self.statuses if s["resolution"] == status)


def resolve_messages(
    messages: pd.DataFrame,
    members: Iterable[Member],
    friends: Iterable[Friend],
    *,
    separator: str,
    hour_bucket: Callable[[pd.Series], pd.Series],
    exclude_bots: bool = True,
) -> Resolution:
    """Resolve archived messages (columns of ``messages_to_resolve`` in include/sql/archive.sql).

    One frame; to resolve many frames, make one :class:`Resolver` and call it for each.
    """
    resolver = Resolver(members, friends, separator=separator, exclude_bots=exclude_bots)
    return resolver.resolve(messages, hour_bucket)


class Resolver:
    """Resolves frames of messages against one directory (members and friends).

    The outcome of a message depends only on who took part (sender kind, sender cell, recipients cell);
    the same few ten thousand combinations recur in every frame, so each is worked out once per
    resolver and spread to the messages of every frame with array indexing.
    """

    MAX_REMEMBERED = 1_000_000  # combinations kept between frames (then forgotten and worked out again)

    def __init__(
        self,
        members: Iterable[Member],
        friends: Iterable[Friend],
        *,
        separator: str,
        exclude_bots: bool = True,
    ) -> None:
        self.separator, self.exclude_bots = separator, exclude_bots
        self.by_email = {m.email: m for m in members if m.email}
        self.by_name: dict[str, list[Friend]] = defaultdict(list)
        for f in friends:
            self.by_name[match_name(f.display_name)].append(f)
        # Display names containing the separator (e.g. 'Yamada, "Ken"') must not be split into two people.
        self.known_names = {f.display_name for fs in self.by_name.values() for f in fs}
        self._outcomes: dict[tuple, tuple[str, list[str], list[tuple[str, str]]]] = {}

    def resolve(self, messages: pd.DataFrame, hour_bucket: Callable[[pd.Series], pd.Series]) -> Resolution:
        result = Resolution()
        if messages.empty:
            return result
        codes, combos = _combinations(messages, ["sender_kind", "sender_raw", "recipients_raw"])
        if len(self._outcomes) > self.MAX_REMEMBERED:
            self._outcomes.clear()
        statuses: list[str] = []
        combo_links: list[tuple[int, str]] = []  # (combination, contact_id)
        combo_issues: list[tuple[int, str, str]] = []  # (combination, participant, reason)
        for i, combo in enumerate(combos):
            outcome = self._outcomes.get(combo)
            if outcome is None:
                outcome = self._outcomes[combo] = self._outcome(*combo)
            status, contacts, issues = outcome
            statuses.append(status)
            combo_links += [(i, c) for c in contacts]
            combo_issues += [(i, name, reason) for name, reason in issues]
        keys = messages["message_key"].to_numpy(dtype=object).tolist()
        per_message = [statuses[c] for c in codes]
        result.statuses = [{"message_key": k, "resolution": r} for k, r in zip(keys, per_message)]
        rows = pd.DataFrame({"combo": codes, "message_key": keys})
        if combo_links:
            links = pd.DataFrame(combo_links, columns=["combo", "contact_id"])
            # in message order; hour buckets only for the messages that belong to a friend
            linked_rows = rows.reset_index().merge(links, on="combo").sort_values(["index"], kind="stable")
            hours = hour_bucket(
                pd.to_datetime(messages["sent_at"].iloc[linked_rows["index"].to_numpy()], utc=True)
            )
            result.links = [
                {"message_key": k, "contact_id": c, "hour_bucket": h}
                for k, c, h in zip(
                    linked_rows["message_key"].tolist(), linked_rows["contact_id"].tolist(), hours.tolist()
                )
            ]
        if combo_issues:
            issues = pd.DataFrame(combo_issues, columns=["combo", "participant", "reason"])
            issue_rows = rows.reset_index().merge(issues, on="combo").sort_values(["index"], kind="stable")
            result.issues = issue_rows[["message_key", "participant", "reason"]].to_dict("records")
        return result

    def _outcome(
        self, sender_kind: str, sender_raw: str, recipients_raw: str
    ) -> tuple[str, list[str], list[tuple[str, str]]]:
        """(status, linked contact ids, [(participant, reason)]) of one combination of participants."""
        if sender_kind == "bot" and self.exclude_bots:
            return "bot", [], []
        people = [
            parse_person(sender_raw),
            *(parse_person(c) for c in split_recipients(recipients_raw, self.separator, self.known_names)),
        ]
        by_email = self.by_email
        present = {by_email[p.email].user_id for p in people if p.email and p.email in by_email}
        externals = list(dict.fromkeys(p.name for p in people if p.kind == "external" and p.name))
        if not externals:
            return "internal", [], []
        contacts: list[str] = []
        issues: list[tuple[str, str]] = []
        for name in externals:
            candidates = [f for f in self.by_name.get(match_name(name), ()) if f.members & present]
            line_users = {f.line_user_id for f in candidates}
            if len(candidates) == 1 or (candidates and len(line_users) == 1 and "" not in line_users):
                contacts += [f.contact_id for f in candidates]  # one LINE user: each member's contact
            else:
                reason = (
                    "ambiguous_external"
                    if candidates
                    else ("unknown_external" if present else "no_member_in_talk")
                )
                issues.append((name, reason))
        return ("resolved" if contacts else "unresolved"), contacts, issues


def _combinations(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, list[tuple]]:
    """(each row's combination of ``columns`` as a number, the combinations), by first appearance."""
    codes = np.zeros(len(frame), dtype=np.int64)
    for name in columns:
        column_codes, column_values = pd.factorize(frame[name], use_na_sentinel=False)
        # renumbered after each column, so codes stay below len(frame) and the product fits in int64
        codes = pd.factorize(codes * len(column_values) + column_codes)[0]
    first = np.unique(codes, return_index=True)[1]  # codes are 0..n-1: the first row of each
    return codes, list(frame[columns].iloc[first].itertuples(index=False, name=None))
