"""Pipeline settings: YAML defaults, overrides from the Variable, errors that name the key."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from datetime import timedelta

import pytest

from lineworks_salesforce.settings import (
    DEFAULT_TASK_TIMEOUT_MINUTES,
    TASK_IDS,
    VARIABLE_SOURCE,
    Settings,
    SettingsError,
    file_task_timeouts,
    import_root,
    load_settings,
    settings_from_variable,
    timeout_for,
    validate_domain_id,
)


def test_should_read_the_shipped_defaults():
    settings = load_settings()
    assert settings == Settings()  # the YAML and the dataclass agree
    assert (settings.timezone, settings.lookback_hours, settings.subject_template) == (
        "Asia/Tokyo",
        2.0,
        "LINE WORKSログ",
    )


def test_should_apply_overrides():
    settings = load_settings({"lookback_hours": 3, "redact_patterns": [r"\d{16}"], "exclude_bots": False})
    assert (settings.lookback_hours, settings.redact_patterns, settings.exclude_bots) == (
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


# --- one validated model ----------------------------------------------------------------------------
SECRET = "SECRET-abc123"


def _file(tmp_path, text: str | bytes, name: str = "settings.yaml"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _refused(call, *args, **kwargs) -> str:
    with pytest.raises(SettingsError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert len(message.splitlines()[0]) <= 200, message
    assert SECRET not in message and "abc123" not in message, message
    return message


def test_should_give_the_same_defaults_from_every_entry_point():
    expected = Settings()
    assert load_settings() == expected
    assert load_settings({}) == expected
    for raw in (None, "", "  \n", "{}"):
        assert settings_from_variable(raw) == expected


def test_should_have_the_new_settings_with_their_defaults():
    settings = load_settings()
    assert settings.import_location == ""
    assert settings.import_max_bytes == 2 * 1024**3
    assert settings.import_max_days == 400
    assert settings.file_import_enabled is True
    assert settings.task_timeout_minutes == DEFAULT_TASK_TIMEOUT_MINUTES
    assert set(DEFAULT_TASK_TIMEOUT_MINUTES) == {"default", *TASK_IDS}
    assert TASK_IDS == (
        "extract",
        "archive",
        "resolve",
        "build",
        "load",
        "summary",
        "import_history",
        "prompt_friends",
    )


def test_should_take_ints_for_floats_and_keep_ints_for_ints():
    settings = settings_from_variable(
        '{"lookback_hours": 3, "retry_unresolved_days": 0, "link_query_ids": 2000}'
    )
    assert (settings.lookback_hours, settings.retry_unresolved_days) == (3.0, 0.0)
    assert type(settings.lookback_hours) is float and type(settings.retry_unresolved_days) is float
    assert type(settings.link_query_ids) is int
    assert type(Settings().lookback_hours) is float


@pytest.mark.parametrize("value", [40029600, "40029600"])
def test_should_normalise_an_int_domain_id_to_text(value, tmp_path):
    assert settings_from_variable(json.dumps({"domain_id": value})).domain_id == "40029600"
    assert load_settings(defaults_file=_file(tmp_path, f"domain_id: {value}\n")).domain_id == "40029600"
    assert Settings(domain_id=value).domain_id == "40029600"
    assert dataclasses.replace(Settings(), domain_id=value).domain_id == "40029600"


def test_should_validate_a_domain_id_for_the_airflow_glue():
    assert validate_domain_id(10000001) == "10000001"
    assert validate_domain_id("2147483647") == "2147483647"
    assert validate_domain_id("") == ""
    message = _refused(
        validate_domain_id, "", "Domain ID", source="connection lineworks_default", allow_empty=False
    )
    assert message.startswith("connection lineworks_default: Domain ID: got empty str")
    message = _refused(validate_domain_id, "1-2-3", field="the Domain ID of connection lineworks_default")
    assert message.startswith("the Domain ID of connection lineworks_default: got str of 5 characters")
    assert "1-2-3" not in message


def test_should_give_each_task_its_timeout():
    settings = load_settings()
    assert timeout_for(settings, "load") == timedelta(minutes=120)
    assert timeout_for(settings, "import_history") == timedelta(hours=3)
    assert timeout_for(settings, "summary") == timedelta(minutes=5)
    assert timeout_for(settings, "a_task_not_listed") == timedelta(minutes=60)


def test_should_read_the_timeouts_from_the_settings_file_only(tmp_path):
    timeouts = file_task_timeouts()
    assert set(timeouts) == set(TASK_IDS)
    assert timeouts["load"] == timedelta(minutes=120) and timeouts["summary"] == timedelta(minutes=5)
    custom = file_task_timeouts(_file(tmp_path, "task_timeout_minutes:\n  default: 15\n  load: 200\n"))
    assert (custom["load"], custom["extract"]) == (timedelta(minutes=200), timedelta(minutes=15))
    message = _refused(file_task_timeouts, _file(tmp_path, "task_timeout_minutes:\n  load: .nan\n"))
    assert "task_timeout_minutes" in message and "settings file" in message
    # the Variable is not read when DAG files are parsed: it may not pretend to set them
    message = _refused(settings_from_variable, '{"task_timeout_minutes": {"load": 200, "default": 90.5}}')
    assert message.startswith("Variable lineworks_salesforce_settings: task_timeout_minutes: is read when")


def test_should_refuse_timeouts_without_a_default_in_the_file_and_in_code(tmp_path):
    message = _refused(load_settings, defaults_file=_file(tmp_path, "task_timeout_minutes:\n  load: 5\n"))
    assert "task_timeout_minutes.default" in message and "settings file" in message
    message = _refused(Settings, task_timeout_minutes={"load": 5})
    assert message.startswith("Settings(): task_timeout_minutes.default")


def test_should_keep_the_settings_frozen_hashable_and_picklable():
    settings = Settings(redact_patterns=["秘+"], task_timeout_minutes={"default": 10})
    assert settings.redact_patterns == ("秘+",)
    with pytest.raises(TypeError):
        settings.task_timeout_minutes["default"] = 0  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lookback_hours = 1  # type: ignore[misc]
    assert hash(settings) == hash(Settings(redact_patterns=("秘+",), task_timeout_minutes={"default": 10.0}))
    assert pickle.loads(pickle.dumps(settings)) == settings
    assert copy.deepcopy(settings) == settings
    assert dataclasses.asdict(settings)["task_timeout_minutes"] == {"default": 10.0}


def test_should_validate_replace_results():
    settings = dataclasses.replace(Settings(), lookback_hours=5, redact_patterns=["秘+"])
    assert (settings.lookback_hours, settings.redact_patterns) == (5.0, ("秘+",))
    message = _refused(dataclasses.replace, settings, retry_unresolved_days=1e308)
    assert message.startswith("Settings(): retry_unresolved_days: got float out of range")


@pytest.mark.parametrize(
    "location",
    [
        "/srv/imports",
        "/srv/imports/",
        "file:///srv/imports/",
        "s3://bucket/prefix/",
        "gs://bucket/prefix",
        "gcs://bucket",
        "abfs://container/folder/",
        "az://container/folder",
        "adl://store/folder",
    ],
)
def test_should_accept_an_import_location(location):
    assert settings_from_variable(json.dumps({"import_location": location})).import_location == location


def test_should_resolve_the_default_import_location():
    assert import_root(Settings(), {"AIRFLOW_HOME": "/opt/airflow"}) == "/opt/airflow/imports"
    assert import_root(Settings(import_location="s3://b/p/"), {}) == "s3://b/p/"


@pytest.mark.parametrize(
    "template",
    [
        "LINE WORKSログ",
        "LINE WORKS {date} {hour}時 {friend}",
        "{friend} ({part:02d})",
        "{friend:>10}|{hour:0>2}",
        "{{literal braces}} {date}",
    ],
)
def test_should_accept_a_subject_template(template):
    assert Settings(subject_template=template).subject_template == template


def test_should_name_the_index_of_a_bad_redaction_pattern():
    message = _refused(load_settings, {"redact_patterns": ["ok", r"\d{16}", "SECRET-(abc123"]})
    assert message.startswith(
        "Variable lineworks_salesforce_settings: redact_patterns[2]: got str of 14 characters"
    )


# --- sources ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "key", "where"),
    [
        (
            f"subject_template: {SECRET}\nlookback_hours: 1\nlookback_hours: 2\n",
            "lookback_hours",
            "line 3, column 1",
        ),
        ("task_timeout_minutes:\n  default: 5\n  load: 6\n  load: 7\n", "load", "line 4, column 3"),
    ],
)
def test_should_refuse_a_duplicate_key_in_the_file(tmp_path, text, key, where):
    path = _file(tmp_path, text)
    message = _refused(load_settings, defaults_file=path)
    assert message.startswith(f"settings file {path}: {key}: duplicate key at {where}")


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (f'{{"subject_template": "{SECRET}", "subject_template": "x"}}', "subject_template"),
        ('{"task_timeout_minutes": {"load": 6, "load": 7}}', "load"),
    ],
)
def test_should_refuse_a_duplicate_key_in_the_variable(raw, key):
    message = _refused(settings_from_variable, raw)
    assert message.startswith(f"Variable lineworks_salesforce_settings: {key}: duplicate key")


@pytest.mark.parametrize(
    ("text", "got"),
    [
        (f"- {SECRET}\n- lookback_hours\n", "list of 2 items"),
        (f"{SECRET}\n", "str of 13 characters"),
        ("42\n", "int"),
    ],
)
def test_should_refuse_a_file_that_is_not_a_mapping(tmp_path, text, got):
    message = _refused(load_settings, defaults_file=_file(tmp_path, text))
    assert "settings file" in message and f"got {got} at the top level" in message


@pytest.mark.parametrize(
    ("raw", "got"),
    [
        (f'["{SECRET}"]', "list of 1 item"),
        ("987654", "int"),
        (f'"{SECRET}"', "str of 13 characters"),
        ("null", "null"),
    ],
)
def test_should_refuse_a_variable_that_is_not_a_json_object(raw, got):
    message = _refused(settings_from_variable, raw)
    assert message.startswith(f"Variable lineworks_salesforce_settings: got {got} at the top level")
    assert "987654" not in message


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (f'{{"subject_template": "{SECRET}', "line 1, column 22"),
        (f'{{\n  "subject_template": "\\q {SECRET}"}}', "line 2, column 24"),
        (f'{{"lookback_hours": 1,}} {SECRET}', "line 1, column"),
        (f"{{'subject_template': '{SECRET}'}}", "line 1, column 2"),
        (f"{SECRET}", "line 1, column 1"),
    ],
)
def test_should_refuse_invalid_json_with_its_position(raw, where):
    message = _refused(settings_from_variable, raw)
    assert message.startswith("Variable lineworks_salesforce_settings: not valid JSON (")
    assert where in message


@pytest.mark.parametrize(
    "raw",
    ["[" * 100_000, '{"import_max_bytes": 1' + "0" * 5_000 + "}", "{" + " " * (1 << 20) + "}"],
    ids=["deep", "long number", "too long"],
)
def test_should_refuse_a_hostile_variable(raw):
    assert _refused(settings_from_variable, raw).startswith("Variable lineworks_salesforce_settings: ")


def test_should_refuse_a_variable_that_is_not_text():
    _refused(settings_from_variable, b"{}")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (f'subject_template: "{SECRET}\nlookback_hours: 2\n', "line 3, column 1"),
        (f"subject_template: [{SECRET}\n", "line 2, column 1"),
        (f"subject_template: !{SECRET} x\n", "line 1, column 19"),
        (f"lookback_hours: 2\n\tsubject_template: {SECRET}\n", "line 2, column 1"),
    ],
)
def test_should_refuse_invalid_yaml_with_its_position(tmp_path, text, where):
    message = _refused(load_settings, defaults_file=_file(tmp_path, text))
    assert "settings file" in message and "not valid YAML (" in message and where in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (f"subject_template: {SECRET}\n".encode() + b"\xff\n", "not UTF-8 text"),
        (None, "cannot be read (IsADirectoryError)"),
        (f"lookback_hour: 2\nsubject_template: {SECRET}\n", "lookback_hour: unknown setting"),
        (f"lookback_hours: {SECRET}\n", "lookback_hours: got str of 13 characters"),
        ("{1: 2}\n", "<a key: int>: unknown setting"),
    ],
)
def test_should_refuse_a_bad_defaults_file(tmp_path, content, problem):
    if content is None:
        path = tmp_path / "settings.yaml"
        path.mkdir()
    else:
        path = _file(tmp_path, content)
    message = _refused(load_settings, defaults_file=path)
    assert message.startswith(f"settings file {path}: {problem}")


def test_should_refuse_a_defaults_file_over_its_size(tmp_path):
    path = tmp_path / "settings.yaml"
    with path.open("wb") as fh:
        fh.truncate(5 << 20)
    assert "is over" in _refused(load_settings, defaults_file=path)


def test_should_use_the_dataclass_defaults_without_a_defaults_file(tmp_path):
    assert load_settings(defaults_file=tmp_path / "missing.yaml") == Settings()


def test_should_list_the_known_settings_after_an_unknown_one():
    message = _refused(settings_from_variable, f'{{"lookback_hour": "{SECRET}", "x y": 1}}')
    first, known = message.splitlines()
    assert first == f"{VARIABLE_SOURCE}: lookback_hour, <a key: str of 3 characters>: unknown settings"
    assert known.startswith("known settings: timezone, lookback_hours,") and "task_timeout_minutes" in known
    assert "exclude_internal" not in known  # removed: internal talks have no external contact anyway


def test_should_shorten_a_long_settings_file_path(tmp_path):
    deep = tmp_path / ("d" * 120) / "settings.yaml"
    deep.parent.mkdir()
    deep.write_text(f"lookback_hours: -1\nsubject_template: {SECRET}\n", encoding="utf-8")
    first = _refused(load_settings, defaults_file=deep).splitlines()[0]
    assert (
        first.startswith("settings file …") and "settings.yaml: lookback_hours: got int out of range" in first
    )


def test_should_not_echo_an_unknown_key_that_is_no_near_miss_of_a_setting():
    """A token or password pasted as a key is described, never shown; a typo is named to be fixed."""
    message = _refused(settings_from_variable, '{"ghp_Zx81kQ3abcdefgh": 1}')
    assert "Zx81kQ3" not in message and "<a key: str of 19 characters>" in message
    assert "lookback_hour" in _refused(settings_from_variable, '{"lookback_hour": 1}')
