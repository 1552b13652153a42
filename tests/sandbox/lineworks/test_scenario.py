"""Tests for the seeded LINE WORKS scenario generator (sandbox/lineworks/scenario.py)."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sandbox.lineworks.scenario import (
    JST,
    SIZES,
    Bot,
    Message,
    Participant,
    Scenario,
    ScenarioSize,
    generate,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
KATAKANA_RE = re.compile(r"^[\u30a1-\u30fc]+$")
PHOTO_RE = re.compile(r"^\(写真\) IMG_(\d{8}_\d{6})\.jpg$")
VIDEO_RE = re.compile(r"^\(動画\) VID_(\d{8}_\d{6})\.mp4$")
FILE_RE = re.compile(r"^\(ファイル\) \S.*\.(pdf|docx|pptx|xlsx|zip)$")
STAMP_RE = re.compile(
    r"^https://stickershop\.line-scdn\.net/stickershop/v1/sticker/\d+/android/sticker\.png$"
)
LOCATION_RE = re.compile(
    r"^\(位置情報\) (東京都|大阪府)\S+\nhttps://maps\.google\.com/\?q=\d+\.\d{6},\d+\.\d{6}$"
)
HALF_WIDTH_KANA_RE = re.compile(r"[\uff66-\uff9f]")
EMOJI_RE = re.compile(r"[\U0001f300-\U0001faff\u2600-\u27bf\u2661]")
ROMAJI_RE = re.compile(r"^[A-Za-z]+([ ._][A-Za-z]+)*$")


# ---------------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Scenario:
    return generate("demo")


@pytest.fixture(scope="module")
def demo_messages(demo: Scenario) -> list[Message]:
    return list(demo.messages())


@pytest.fixture(scope="module")
def test_scenario() -> Scenario:
    return generate("test")


@pytest.fixture(scope="module")
def test_messages(test_scenario: Scenario) -> list[Message]:
    return list(test_scenario.messages())


@pytest.fixture(scope="module")
def bench() -> Scenario:
    return generate("bench", messages=20_000)


@pytest.fixture(scope="module")
def bench_messages(bench: Scenario) -> list[Message]:
    started = time.perf_counter()
    messages = list(bench.messages())
    elapsed = time.perf_counter() - started
    print(f"\nbench: {len(messages)} messages in {elapsed:.3f}s = {len(messages) / elapsed:,.0f} msg/s")
    return messages


def _fingerprint(scenario: Scenario, limit: int) -> str:
    digest = hashlib.sha256()
    for item in (
        scenario.domain_id,
        scenario.company_name,
        scenario.email_domain,
        scenario.members,
        scenario.friends,
        scenario.bots,
        scenario.rooms,
    ):
        digest.update(repr(item).encode())
    for message in itertools.islice(scenario.messages(), limit):
        digest.update(repr(message).encode())
    return digest.hexdigest()


def _participants(scenario: Scenario) -> dict[str, set[Participant]]:
    return {
        room.channel_id: {Participant("member", u) for u in room.member_ids}
        | {Participant("friend", c) for c in room.friend_ids}
        for room in scenario.rooms
    }


# ---------------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------------


def test_should_generate_identical_data_for_the_same_seed() -> None:
    first, second = generate("test", seed=7), generate("test", seed=7)

    assert first.members == second.members
    assert first.friends == second.friends
    assert first.rooms == second.rooms
    assert first.bots == second.bots
    assert (first.domain_id, first.company_name, first.email_domain) == (
        second.domain_id,
        second.company_name,
        second.email_domain,
    )
    assert list(itertools.islice(first.messages(), 500)) == list(itertools.islice(second.messages(), 500))


def test_should_generate_different_data_for_a_different_seed() -> None:
    first, second = generate("test", seed=7), generate("test", seed=8)

    assert [m.user_id for m in first.members] != [m.user_id for m in second.members]
    assert [f.display_name for f in first.friends] != [f.display_name for f in second.friends]
    assert list(itertools.islice(first.messages(), 500)) != list(itertools.islice(second.messages(), 500))


def test_should_yield_the_same_sequence_when_messages_is_called_twice(demo: Scenario) -> None:
    assert list(demo.messages()) == list(demo.messages())


def test_should_be_identical_across_processes_with_different_hash_seeds() -> None:
    code = (
        "from tests.sandbox.lineworks.test_scenario import _fingerprint\n"
        "from sandbox.lineworks.scenario import generate\n"
        "print(_fingerprint(generate('test', seed=3), 500))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == _fingerprint(generate("test", seed=3), 500)


# ---------------------------------------------------------------------------------------------------
# Messages: count, order, rooms, participants
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["test", "bench"])
def test_should_yield_exactly_size_messages_sorted_by_time(
    which: str, request: pytest.FixtureRequest
) -> None:
    scenario: Scenario = request.getfixturevalue("test_scenario" if which == "test" else "bench")
    messages: list[Message] = request.getfixturevalue(f"{which}_messages")

    assert len(messages) == scenario.size.messages
    assert all(a.sent_at <= b.sent_at for a, b in itertools.pairwise(messages))
    assert messages[0].sent_at >= scenario.start
    assert messages[-1].sent_at < scenario.start + timedelta(days=scenario.size.days)
    assert all(m.sent_at.tzinfo is not None and m.sent_at.microsecond == 0 for m in messages)


@pytest.mark.parametrize("which", ["test", "bench"])
def test_should_send_messages_between_participants_of_existing_rooms(
    which: str, request: pytest.FixtureRequest
) -> None:
    scenario: Scenario = request.getfixturevalue("test_scenario" if which == "test" else "bench")
    messages: list[Message] = request.getfixturevalue(f"{which}_messages")
    participants = _participants(scenario)
    bot = Participant("bot", str(scenario.bots[0].bot_id))

    for message in messages:
        room = participants[message.channel_id]
        if message.sender == bot:
            assert len(message.recipients) == 1 and message.recipients[0] in room
            assert message.recipients[0].kind == "member"
            continue
        assert message.sender in room
        assert set(message.recipients) == room - {message.sender}
        assert len(message.recipients) == len(room) - 1


@pytest.mark.parametrize("which", ["test", "bench"])
def test_should_send_bot_messages_only_in_single_rooms(which: str, request: pytest.FixtureRequest) -> None:
    scenario: Scenario = request.getfixturevalue("test_scenario" if which == "test" else "bench")
    messages: list[Message] = request.getfixturevalue(f"{which}_messages")
    kinds = {room.channel_id: room.kind for room in scenario.rooms}
    bot_messages = [m for m in messages if m.sender.kind == "bot"]
    single = sum(1 for m in messages if kinds[m.channel_id] == "single")

    assert bot_messages
    assert {kinds[m.channel_id] for m in bot_messages} == {"single"}
    assert {m.sender.ref for m in bot_messages} == {"2000001"}
    assert 0.01 < len(bot_messages) / single < 0.06


def test_should_spread_messages_over_room_kinds_content_kinds_and_business_hours(
    test_messages: list[Message], test_scenario: Scenario
) -> None:
    room_kinds = {room.channel_id: room.kind for room in test_scenario.rooms}
    per_room_kind = Counter(room_kinds[m.channel_id] for m in test_messages)
    per_kind = Counter(m.kind for m in test_messages)
    total = len(test_messages)
    business = sum(1 for m in test_messages if 8 <= m.sent_at.astimezone(JST).hour < 21)

    assert 0.6 < per_room_kind["single"] / total < 0.8
    assert 0.08 < per_room_kind["group"] / total < 0.22
    assert 0.08 < per_room_kind["internal"] / total < 0.22
    assert 0.74 < per_kind["text"] / total < 0.86
    for kind in ("photo", "file", "stamp", "location", "video"):
        assert per_kind[kind] > 0
    assert 0.8 < business / total < 1.0
    assert len({m.sent_at.date() for m in test_messages}) >= 2
    assert len({m.channel_id for m in test_messages}) == len(test_scenario.rooms)


def test_should_format_content_cells_like_the_monitoring_csv(bench_messages: list[Message]) -> None:
    seen = Counter()
    for message in bench_messages:
        seen[message.kind] += 1
        stamp = f"{message.sent_at:%Y%m%d_%H%M%S}"
        if message.kind == "photo":
            assert PHOTO_RE.match(message.text).group(1) == stamp
        elif message.kind == "video":
            assert VIDEO_RE.match(message.text).group(1) == stamp
        elif message.kind == "file":
            assert FILE_RE.match(message.text), message.text
        elif message.kind == "stamp":
            assert STAMP_RE.match(message.text), message.text
        elif message.kind == "location":
            assert LOCATION_RE.match(message.text), message.text
        else:
            assert message.kind == "text" and message.text
    texts = [m.text for m in bench_messages if m.kind == "text"]

    assert set(seen) == {"text", "photo", "file", "stamp", "location", "video"}
    assert any("\n" in t for t in texts)
    assert any("," in t for t in texts) and any('"' in t for t in texts)
    assert any(EMOJI_RE.search(t) for t in texts)
    long_texts = [t for t in texts if len(t) >= 3_000]
    assert long_texts and all(len(t) <= 40_000 for t in long_texts)


def test_should_keep_memory_flat_while_iterating_bench_messages() -> None:
    scenario = generate("bench", messages=200_000)
    tracemalloc.start()
    try:
        count = sum(1 for _ in scenario.messages())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 200_000
    assert peak < 50 * 1024 * 1024


def test_should_stay_sorted_and_exact_when_hours_are_very_dense() -> None:
    scenario = generate("demo", messages=30_000)  # ~15,000 per hour: split into smaller buckets
    count = 0
    previous = None
    for message in scenario.messages():
        assert previous is None or previous <= message.sent_at
        assert scenario.start <= message.sent_at < scenario.start + timedelta(hours=2)
        previous = message.sent_at
        count += 1

    assert count == 30_000


# ---------------------------------------------------------------------------------------------------
# Demo guarantees
# ---------------------------------------------------------------------------------------------------


def test_should_build_the_demo_tenant(demo: Scenario) -> None:
    kinds = Counter(room.kind for room in demo.rooms)

    assert len(demo.members) == 3
    assert 6 <= len(demo.friends) <= 9
    assert kinds == {"single": len(demo.friends), "group": 1, "internal": 1}
    assert demo.bots == [Bot(2000001, "社外連絡先Bot")]
    assert demo.start == datetime(2026, 11, 20, 9, 0, tzinfo=JST)


def test_should_keep_demo_messages_within_two_hours_across_one_hour_boundary(
    demo: Scenario, demo_messages: list[Message]
) -> None:
    hours = Counter(m.sent_at.astimezone(JST).hour for m in demo_messages)

    assert len(demo_messages) == 60
    assert all(demo.start <= m.sent_at < demo.start + timedelta(hours=2) for m in demo_messages)
    assert set(hours) == {9, 10}


def test_should_show_every_case_in_the_demo(demo: Scenario, demo_messages: list[Message]) -> None:
    room_kinds = {room.channel_id: room.kind for room in demo.rooms}
    long_texts = [m.text for m in demo_messages if len(m.text) > 1_000]

    assert {m.kind for m in demo_messages} == {"text", "photo", "file", "stamp", "location", "video"}
    assert any(m.sender.kind == "bot" for m in demo_messages)
    assert {"single", "group", "internal"} <= {room_kinds[m.channel_id] for m in demo_messages}
    assert len(long_texts) == 1 and 2_300 <= len(long_texts[0]) <= 2_700


def test_should_have_two_demo_messages_in_the_same_room_in_the_same_second(
    demo_messages: list[Message],
) -> None:
    same_second = Counter((m.channel_id, m.sent_at) for m in demo_messages)

    assert max(same_second.values()) >= 2


def test_should_cross_exactly_one_hour_boundary_when_demo_start_is_not_on_the_hour() -> None:
    start = datetime(2026, 11, 20, 9, 40, 15, tzinfo=JST)
    messages = list(generate("demo", start=start).messages())

    assert len(messages) == 60
    assert all(start <= m.sent_at < start + timedelta(hours=2) for m in messages)
    assert {m.sent_at.hour for m in messages} == {9, 10}


# ---------------------------------------------------------------------------------------------------
# Tenant data: names, ids, rooms
# ---------------------------------------------------------------------------------------------------


def test_should_use_realistic_member_names_and_unique_lowercase_emails(bench: Scenario) -> None:
    emails = [m.email for m in bench.members]

    assert len(set(emails)) == len(emails)
    assert all(e == e.lower() and e.endswith("@" + bench.email_domain) for e in emails)
    assert bench.email_domain.endswith(".example.com")
    for member in bench.members:
        assert KATAKANA_RE.match(member.last_name_kana) and KATAKANA_RE.match(member.first_name_kana)
        assert member.display_name == f"{member.last_name} {member.first_name}"
        first, last = member.romaji.split(" ")
        assert member.email.split("@")[0].rstrip("0123456789") == f"{first}.{last}".lower()
    assert len({m.last_name for m in bench.members}) >= 30


def test_should_give_every_id_the_opaque_format_and_make_it_unique(bench: Scenario) -> None:
    ids = (
        [m.user_id for m in bench.members]
        + [f.contact_id for f in bench.friends]
        + [f.external_user_id for f in bench.friends]
        + [r.channel_id for r in bench.rooms]
    )

    assert len(set(ids)) == len(ids)
    assert all(ID_RE.match(i) for i in ids)
    assert all(i[19] in "01234567" for i in ids)  # never the RFC 4122 variant


def test_should_vary_friend_display_names_in_test(test_scenario: Scenario) -> None:
    names = [f.display_name for f in test_scenario.friends]
    per_member = Counter((f.master_user_id, f.display_name) for f in test_scenario.friends)
    owners: dict[str, set[str]] = {}
    for friend in test_scenario.friends:
        owners.setdefault(friend.display_name, set()).add(friend.master_user_id)

    assert any("\u3000" in n for n in names)
    assert any(HALF_WIDTH_KANA_RE.search(n) for n in names)
    assert any(EMOJI_RE.search(n) for n in names)
    assert any(ROMAJI_RE.match(n) for n in names)
    assert max(per_member.values()) >= 2  # same name twice among one member's friends
    assert any(len(members) >= 2 for members in owners.values())  # same name across members


def test_should_vary_friend_display_names_in_bench(bench: Scenario) -> None:
    names = [f.display_name for f in bench.friends]
    per_member = Counter((f.master_user_id, f.display_name) for f in bench.friends)

    assert any(re.search(r"[\uff21-\uff3a]", n) for n in names)  # full-width latin
    assert any(n.endswith(("ちゃん", "くん")) for n in names)
    assert any(n.startswith(("(株)", "㈱", "（株）")) for n in names)
    assert any(KATAKANA_RE.match(n.replace(" ", "")) for n in names)
    assert max(per_member.values()) >= 2


def test_should_include_the_hostile_friend_only_in_test(
    demo: Scenario, test_scenario: Scenario, bench: Scenario
) -> None:
    def hostile(scenario: Scenario) -> list[str]:
        return [f.display_name for f in scenario.friends if "," in f.display_name or '"' in f.display_name]

    assert hostile(test_scenario) == ['Yamada, "Ken"']
    assert hostile(demo) == [] and hostile(bench) == []
    for scenario in (demo, test_scenario, bench):
        for friend in scenario.friends:
            assert "\n" not in friend.display_name and "\r" not in friend.display_name
            assert not re.search(r"\(\s*[^)]*@", friend.display_name)


def test_should_not_repeat_a_display_name_within_one_member_in_the_demo(demo: Scenario) -> None:
    per_member = Counter((f.master_user_id, f.display_name) for f in demo.friends)

    assert sum(1 for count in per_member.values() if count > 1) <= 1


def test_should_create_friends_before_start(bench: Scenario) -> None:
    for friend in bench.friends:
        assert bench.start - timedelta(days=60) <= friend.created_time < bench.start
        assert friend.created_time <= friend.modified_time <= bench.start
        assert friend.created_time.tzinfo is not None


def test_should_build_rooms_as_specified(test_scenario: Scenario) -> None:
    friends = {f.contact_id: f for f in test_scenario.friends}
    singles = [r for r in test_scenario.rooms if r.kind == "single"]

    assert len(singles) == len(test_scenario.friends)
    assert sorted(r.friend_ids[0] for r in singles) == sorted(friends)
    for room in test_scenario.rooms:
        if room.kind == "single":
            friend = friends[room.friend_ids[0]]
            assert room.member_ids == (friend.master_user_id,) and room.title == friend.display_name
        elif room.kind == "group":
            assert 1 <= len(room.member_ids) <= 3 and 1 <= len(room.friend_ids) <= 4
            assert len(room.member_ids) + len(room.friend_ids) >= 2
            assert all(friends[c].master_user_id in room.member_ids for c in room.friend_ids)
            assert "様" in room.title
        else:
            assert room.kind == "internal"
            assert 2 <= len(room.member_ids) <= 5 and room.friend_ids == ()
    assert Counter(r.kind for r in test_scenario.rooms)["group"] == 3
    assert Counter(r.kind for r in test_scenario.rooms)["internal"] == 2


def test_should_look_up_members_and_friends(test_scenario: Scenario) -> None:
    member, friend = test_scenario.members[3], test_scenario.friends[5]

    assert test_scenario.member(member.user_id) is member
    assert test_scenario.friend(friend.contact_id) is friend
    with pytest.raises(KeyError):
        test_scenario.member("nope")


def test_should_build_the_bench_tenant_with_about_ten_thousand_friends() -> None:
    scenario = generate("bench", members=1000)

    assert len(scenario.members) == 1000
    assert 8_000 <= len(scenario.friends) <= 12_000
    assert Counter(r.kind for r in scenario.rooms) == {
        "single": len(scenario.friends),
        "group": 300,
        "internal": 100,
    }


# ---------------------------------------------------------------------------------------------------
# Sizes and parameters
# ---------------------------------------------------------------------------------------------------


def test_should_define_the_three_sizes() -> None:
    assert SIZES["demo"] == ScenarioSize("demo", 3, (2, 3), 1, 1, 1, 60)
    assert SIZES["test"] == ScenarioSize("test", 8, (2, 5), 3, 2, 2, 2_000)
    assert SIZES["bench"] == ScenarioSize("bench", 1_000, (8, 12), 300, 100, 180, 1_800_000)


def test_should_apply_overrides_and_accept_a_size_object() -> None:
    scenario = generate("test", messages=100, members=4)
    custom = generate(ScenarioSize("custom", 2, (1, 1), 0, 0, 1, 10), seed=1)

    assert scenario.size.messages == 100 and len(scenario.members) == 4
    assert sum(1 for _ in scenario.messages()) == 100
    assert len(custom.friends) == 2 and sum(1 for _ in custom.messages()) == 10
    assert {m.sender.kind for m in custom.messages()} <= {"member", "friend", "bot"}


def test_should_reject_unknown_sizes_and_fields() -> None:
    with pytest.raises(ValueError):
        generate("huge")
    with pytest.raises(ValueError):
        generate("demo", colour="red")
    with pytest.raises(ValueError):
        generate("demo", members=0)
