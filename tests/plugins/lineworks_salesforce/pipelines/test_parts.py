"""Which Task parts an hour gained or lost since it was last rendered
(lineworks_salesforce.pipelines._parts_changes)."""

from __future__ import annotations

from lineworks_salesforce.activities.keys import split_part
from lineworks_salesforce.pipelines.building import _parts_changes

A, B, C = "LW-1-c-a-2026112009", "LW-1-c-b-2026112009", "LW-1-c-c-2026112010"


def _keys(first: str, parts: int) -> list[str]:
    return [first] + [f"{first}-p{p}" for p in range(2, parts + 1)]


def test_should_name_the_parts_an_hour_no_longer_has():
    split = {A: 3, B: 2}
    changes = _parts_changes(split, [*_keys(A, 1), *_keys(B, 2), *_keys(C, 2)])
    assert changes.stale == [{"activity_key": f"{A}-p2"}, {"activity_key": f"{A}-p3"}]
    assert changes.unsplit == [{"activity_key": A}]
    assert changes.split == [{"activity_key": C, "parts": 2}]
    assert changes.current == [{"activity_key": f"{B}-p2"}, {"activity_key": f"{C}-p2"}]
    assert split == {B: 2, C: 2}  # kept up to date for the next frame


def test_should_leave_hours_not_rendered_now_alone():
    split = {A: 3}
    changes = _parts_changes(split, _keys(B, 1))
    assert (changes.stale, changes.split, changes.unsplit, changes.current) == ([], [], [], [])
    assert split == {A: 3}


def test_should_read_the_first_key_and_part_of_a_key():
    # contact ids contain dashes; only a trailing -p<n> is a part number
    assert split_part("LW-1-ab-p2-cd-2026112009") == ("LW-1-ab-p2-cd-2026112009", 1)
    assert split_part("LW-1-ab-p2-cd-2026112009-p12") == ("LW-1-ab-p2-cd-2026112009", 12)
