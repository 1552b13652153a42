"""The history import's trigger form, checked before anything runs (a wrong form fails at once)."""

from __future__ import annotations

from datetime import date

import pytest

from lineworks_salesforce.pipelines import HistoryRequest, history_request


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"mode": "range", "start": "2026-06-01", "end": "2026-06-30", "file": ""},
            HistoryRequest("range", date(2026, 6, 1), date(2026, 6, 30)),
        ),
        (
            {"mode": "rerender", "start": "2026-11-20", "end": "2026-11-20"},
            HistoryRequest("rerender", date(2026, 11, 20), date(2026, 11, 20)),
        ),
        # a file import ignores the dates the form still holds; the name is inside the import location
        (
            {"mode": "file", "start": "2026-06-30", "end": "2026-06-01", "file": " 2026/トーク.csv "},
            HistoryRequest("file", file="2026/トーク.csv"),
        ),
    ],
)
def test_should_accept_a_complete_form(params, expected):
    assert history_request(params, today=date(2026, 12, 2)) == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"mode": "everything", "start": "2026-06-01", "end": "2026-06-30"}, "mode"),
        ({"start": "2026-06-01", "end": "2026-06-30"}, "mode"),
        ({"mode": "file", "file": "  "}, "file"),
        ({"mode": "range", "start": "2026/06/01", "end": "2026-06-30"}, "start"),
        ({"mode": "range", "start": "20260601", "end": "2026-06-30"}, "start"),  # ISO, but not the form's
        ({"mode": "range", "start": "2026-06-01", "end": "2026-W27-2"}, "end"),
        ({"mode": "range", "start": "2026-02-30", "end": "2026-06-30"}, "start"),
        ({"mode": "rerender", "start": "2026-06-01", "end": ""}, "end"),
        ({"mode": "range", "start": "2026-06-30", "end": "2026-06-01"}, "end"),
    ],
)
def test_should_name_the_field_of_a_wrong_form(params, field):
    with pytest.raises(ValueError, match=rf"^{field}: "):
        history_request(params, today=date(2026, 12, 2))
