"""Activity keys: built and parsed in one place (lineworks_salesforce.activities.keys)."""

from __future__ import annotations

import pytest

from lineworks_salesforce.activities.keys import ActivityKey, activity_key, parse_activity_key, split_part


def test_should_build_activity_keys():
    assert activity_key(40064200, "c-1", "2026112009") == "LW-40064200-c-1-2026112009"
    assert activity_key("40064200", "c-1", "2026112009", part=2) == "LW-40064200-c-1-2026112009-p2"
    with pytest.raises(ValueError):
        activity_key("1", "c-1", "2026112009", part=0)
    with pytest.raises(ValueError):
        activity_key("1", "", "2026112009")


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("LW-40029600-c-1-2026112009", ActivityKey("40029600", "c-1", "2026112009")),
        ("LW-1-ab-p2-cd-2026112009-p12", ActivityKey("1", "ab-p2-cd", "2026112009", 12)),
        # a contact id that ends like an hour: the last ten digits are the hour
        ("LW-7-x-2026112009-2026112010", ActivityKey("7", "x-2026112009", "2026112010")),
        ("LW-7-1c6c-47f7-9f3c-2026112009-p2", ActivityKey("7", "1c6c-47f7-9f3c", "2026112009", 2)),
    ],
)
def test_should_parse_what_it_builds(key, parsed):
    assert parse_activity_key(key) == parsed
    assert activity_key(parsed.domain_id, parsed.contact_id, parsed.hour, parsed.part) == key
    assert split_part(key) == (parsed.first, parsed.part)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "LW-1-2026112009",
        "LW-a1-c-2026112009",
        "XX-1-c-2026112009",
        "LW-1-c-20261120",
        "LW-1-c-2026112009-p1",
    ],
)
def test_should_refuse_what_is_not_an_activity_key(key):
    with pytest.raises(ValueError, match="not an activity key"):
        parse_activity_key(key)
