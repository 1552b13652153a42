"""Pipeline settings: YAML defaults, overrides from the Variable, errors that name the key."""

from __future__ import annotations

import pytest

from pipeline_settings import Settings, SettingsError, load_settings


def test_should_read_the_shipped_defaults():
    settings = load_settings()
    assert settings == Settings()  # the YAML and the dataclass agree
    assert (settings.timezone, settings.lookback_hours, settings.subject_template) == (
        "Asia/Tokyo",
        2.0,
        "LINE WORKSログ",
    )


def test_should_apply_overrides():
    settings = load_settings({"lookback_hours": 3, "redact_patterns": [r"\d{16}"], "exclude_internal": False})
    assert (settings.lookback_hours, settings.redact_patterns, settings.exclude_internal) == (
        3.0,
        (r"\d{16}",),
        False,
    )


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"lookback_hour": 3}, "lookback_hour"),  # typo
        ({"lookback_hours": "two"}, "lookback_hours"),
        ({"exclude_bots": "yes"}, "exclude_bots"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"redact_patterns": ["(unclosed"]}, "redact_patterns"),
        ({"redact_patterns": "not a list"}, "redact_patterns"),
        ({"lookback_hours": -1}, "lookback_hours"),
        ({"load_batch_records": 0}, "load_batch_records"),
        ({"load_batch_records": 2.5}, "load_batch_records"),
        ({"load_batch_records": True}, "load_batch_records"),
        ({"link_query_ids": 0}, "link_query_ids"),
        ({"link_query_ids": 2_001}, "link_query_ids"),  # the IN list would pass SOQL's 100,000 characters
    ],
)
def test_should_name_the_bad_setting(overrides, named):
    with pytest.raises(SettingsError, match=named):
        load_settings(overrides)


def test_should_refuse_a_variable_that_is_not_an_object():
    with pytest.raises(SettingsError, match="JSON object"):
        load_settings(["lookback_hours"])  # type: ignore[arg-type]
