"""Settings fuzz: every field, every kind of bad value, every source.

Each bad value goes through the four ways settings are made (the Variable's JSON text, an already
parsed Variable dict, the settings file, ``Settings(...)`` in code) and must fail with a
:class:`SettingsError` whose message names the field and the source, keeps its first line within 200
characters and does not contain the value. The cases are keyed by the dataclass' fields: a new field
without cases fails :func:`test_should_have_cases_for_every_field`.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import yaml

from lineworks_salesforce.settings import (
    VARIABLE_SOURCE,
    Settings,
    SettingsError,
    load_settings,
    settings_from_variable,
)

SECRET = "SECRET-abc123"
FRAGMENT = "abc123"
NAN, INF = math.nan, math.inf

# Kinds every field is tried with; "empty" is an empty value of the field's kind ("", [""], {"load": ""}).
REQUIRED = {"wrong type", "nan", "+inf", "-inf", "huge", "negative", "empty"}
NOT_APPLICABLE = {
    "domain_id": {"empty": '"" means the connection\'s Domain ID'},
    "import_location": {"empty": '"" means $AIRFLOW_HOME/imports'},
}
LOADABLE = [f.name for f in dataclasses.fields(Settings)]


def _common(**extra):
    return {
        "null": None,
        "nan": NAN,
        "+inf": INF,
        "-inf": -INF,
        "negative": -987654,
        "list": [SECRET],
        **extra,
    }


def _flag():
    return _common(
        **{"wrong type": SECRET, "int": 1, "zero": 0, "huge": 10**30, "empty": "", "mapping": {"a": SECRET}}
    )


def _float(high):
    return _common(
        **{
            "wrong type": SECRET,
            "bool": True,
            "huge": 1e308,
            "huge int": 10**30,
            "empty": "",
            "above range": high + 1,
            "below range": -0.5,
        }
    )


def _int(low, high):
    return {
        **_float(high),
        "below range": low - 1,
        "fraction": 2.5,
        "whole float": 3.0,
    }


def _text(**extra):
    return _common(
        **{
            "wrong type": 987654.5,
            "int": 987654,
            "bool": True,
            "huge": 1e308,
            "empty": "",
            "too long": SECRET * 100,
            **extra,
        }
    )


CONN_ID = {
    "space": "SECRET abc123",
    "semicolon": "SECRET-abc123;x",
    "newline": "SECRET-abc123\n",
    "arrow": "SECRET-abc123→x",
    "too long": "SECRET-abc123" + "x" * 250,
}

FIELD_CASES: dict[str, dict[str, object]] = {
    "timezone": _text(
        unknown="SECRET/abc123",
        path="../SECRET-abc123",
        lowercase="asia/tokyo",
        secret=SECRET,
        **{"too long": "Asia/" + SECRET * 6},
    ),
    "lookback_hours": _float(744),
    "subject_template": _text(
        blank="   ",
        **{
            "too long": (SECRET + " ") * 20,
            "unknown field": "{SECRET_abc123}",
            "attribute": "{friend.__class__} SECRET-abc123",
            "index": "{friend[0]} SECRET-abc123",
            "conversion": "{friend!r} SECRET-abc123",
            "positional": "{} SECRET-abc123",
            "numbered": "{0} SECRET-abc123",
            "nested spec": "{part:{hour}} SECRET-abc123",
            "wide spec": "{friend:>1000} SECRET-abc123",
            "spec type": "{friend:d} SECRET-abc123",
            "unbalanced": "SECRET-abc123 {",
            "stray brace": "SECRET-abc123 }",
            "control": "SECRET-abc123\n{date}",
        },
    ),
    "exclude_bots": _flag(),
    "redact_patterns": {
        "wrong type": SECRET,  # one string, not a list
        "nan": [NAN],
        "+inf": [INF],
        "-inf": [-INF],
        "huge": [SECRET * 100],  # 1,300 characters
        "negative": [-987654],
        "empty": [""],
        "null": None,
        "item null": ["ok", None],
        "mapping": {"a": SECRET},
        "bad regex": ["ok", "SECRET-(abc123"],
        "empty match": ["ok", "(?:SECRET-abc123)*"],
        "too many": [f"SECRET-abc123-{i}" for i in range(101)],
    },
    "csv_recipient_separator": _text(
        newline="SECRET\nabc123", nul="SECRET\x00abc123", **{"too long": SECRET * 2}
    ),
    "csv_language": _text(unsupported="ko_KR", lowercase="ja_jp", secret=SECRET),
    "domain_id": _common(
        **{
            "wrong type": 987654.5,
            "bool": True,
            "huge": 10**30,
            "huge float": 1e308,
            "negative str": "-987654",
            "hyphens": "1-2-3",
            "secret": SECRET,
            "zero": 0,
            "zero str": "0",
            "leading zero": "098765432",
            "above int32": "2147483648",
            "above int32 int": 2147483648,
            "full-width digits": "９８７６５４３２",
            "space": " 98765432",
        }
    ),
    "retry_unresolved_days": _float(365),
    "build_chunk_rows": _int(1, 1_000_000),
    "load_batch_records": _int(1, 1_000_000),
    "link_query_ids": _int(1, 2_000),
    "lineworks_conn_id": _text(**CONN_ID),
    "salesforce_conn_id": _text(**CONN_ID),
    "archive_conn_id": _text(**CONN_ID),
    "import_location": _text(
        **{
            "relative": "SECRET-abc123/x",
            "home": "~/SECRET-abc123",
            "dotdot": "/srv/SECRET-abc123/../x",
            "dotdot url": "s3://bucket/SECRET-abc123/../x",
            "encoded dotdot": "/srv/%2e%2e/SECRET-abc123",
            "http": "http://SECRET-abc123/x",
            "ftp": "ftp://SECRET-abc123/",
            "credentials": "s3://key:SECRET-abc123@bucket/x",
            "no bucket": "s3:///SECRET-abc123",
            "file host": "file://SECRET-abc123/x",
            "query": "s3://bucket/SECRET-abc123?x=1",
            "windows": "C:\\SECRET-abc123",
            "no slashes": "s3:SECRET-abc123",
            "control": "/srv/SECRET-abc123\x00",
            "too long": "/" + (SECRET + "/") * 80,
        }
    ),
    "import_max_bytes": _int(1, 1024**4),
    "import_max_days": _int(1, 3_660),
    "file_import_enabled": _flag(),
    "friends_lookback_hours": _float(744),
    "prompts_per_minute": _int(1, 240),
    "prompts_per_run": _int(1, 100_000),
    "task_timeout_minutes": {
        "wrong type": SECRET,
        "list": [SECRET],
        "null": None,
        "nan": {"load": NAN},
        "+inf": {"load": INF},
        "-inf": {"default": -INF},
        "huge": {"load": 1e308},
        "huge int": {"load": 10**30},
        "negative": {"load": -987654},
        "empty": {"load": ""},
        "below range": {"summary": 0.5},
        "above range": {"load": 1441},
        "bool": {"load": True},
        "value text": {"load": SECRET},
        "unknown key": {"lod": 5},
        "unprintable key": {SECRET: 5},
    },
}
for _name in NOT_APPLICABLE:
    for _label in NOT_APPLICABLE[_name]:
        FIELD_CASES[_name].pop(_label, None)

CASES = [
    pytest.param(name, value, id=f"{name}-{label}")
    for name in LOADABLE
    for label, value in FIELD_CASES.get(name, {}).items()
]


def _needles(value) -> list[str]:
    """Texts of ``value`` that must not appear in a message."""
    if isinstance(value, bool):
        return [str(value)]
    if isinstance(value, (int, float)):
        text = repr(value)
        return [text, text.lstrip("-")] if len(text.lstrip("-")) >= 3 else []
    if isinstance(value, str):
        found = [value] if len(value.strip()) >= 3 else []
        return found + ([FRAGMENT] if FRAGMENT in value else [])
    if isinstance(value, (list, tuple)):
        return [n for item in value for n in _needles(item)]
    if isinstance(value, dict):
        keys = [FRAGMENT for key in value if FRAGMENT in str(key)]
        return keys + [n for item in value.values() for n in _needles(item)]
    return []


def _assert_refused(exc: SettingsError, name: str, source: str, value) -> None:
    message = str(exc)
    first = message.splitlines()[0]
    assert len(first) <= 200, first
    assert source in first, message
    assert name in first, message
    assert exc.field.startswith(name) or name in exc.field, message
    for needle in _needles(value):
        assert needle not in message, (needle, message)


def test_should_have_cases_for_every_field():
    assert set(FIELD_CASES) == set(LOADABLE), "give every new setting its fuzz cases"
    for name in LOADABLE:
        missing = REQUIRED - set(FIELD_CASES[name]) - set(NOT_APPLICABLE.get(name, {}))
        assert not missing, f"{name} has no case for {sorted(missing)}"


@pytest.mark.parametrize(("name", "value"), CASES)
def test_should_refuse_a_bad_value_in_the_variable_text(name, value):
    with pytest.raises(SettingsError) as caught:
        settings_from_variable(json.dumps({name: value}))
    _assert_refused(caught.value, name, VARIABLE_SOURCE, value)


@pytest.mark.parametrize(("name", "value"), CASES)
def test_should_refuse_a_bad_value_in_the_parsed_variable(name, value):
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value})
    _assert_refused(caught.value, name, VARIABLE_SOURCE, value)


@pytest.mark.parametrize(("name", "value"), CASES)
def test_should_refuse_a_bad_value_in_the_settings_file(name, value, tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({name: value}, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(defaults_file=path)
    _assert_refused(caught.value, name, "settings file", value)
    assert path.name in str(caught.value).splitlines()[0]


@pytest.mark.parametrize(("name", "value"), CASES)
def test_should_refuse_a_bad_value_in_code(name, value):
    with pytest.raises(SettingsError) as caught:
        Settings(**{name: value})
    _assert_refused(caught.value, name, "Settings()", value)
    with pytest.raises(SettingsError) as caught:
        dataclasses.replace(Settings(), **{name: value})
    _assert_refused(caught.value, name, "Settings()", value)
