"""The Airflow glue's production-safe defaults: local fallbacks only where every task shares one machine."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("executor", ["LocalExecutor", "airflow.executors.local_executor.LocalExecutor"])
def test_should_allow_the_local_fallbacks_when_every_task_runs_on_this_machine(executor):
    from operators.talk_logs import require_local_executor

    require_local_executor("the SQLite fallback", executor)


@pytest.mark.parametrize(
    "executor", ["CeleryExecutor", "KubernetesExecutor", "LocalExecutor,CeleryExecutor", "EdgeExecutor"]
)
def test_should_refuse_the_local_fallbacks_under_a_distributed_executor(executor):
    from airflow.sdk.exceptions import AirflowFailException

    from operators.talk_logs import require_local_executor

    with pytest.raises(AirflowFailException, match="only works when every task runs on one machine"):
        require_local_executor("the SQLite fallback", executor)


def test_should_keep_a_short_message_as_it_is():
    from operators.talk_logs import reason_first

    assert reason_first("domain id: set it\ndetails") == "domain id: set it\ndetails"


def test_should_move_what_does_not_fit_the_first_line_below_it():
    from operators.talk_logs import reason_first

    message = (
        "settings (Variable lineworks_salesforce_settings): lookback_hours: expected a whole number of hours"
        " from 1 to 168; " + "and more detail, " * 20
    )
    shaped = reason_first(message)
    first, *rest = shaped.splitlines()
    assert len(first) <= 200 and first.endswith(";") and rest
    assert " ".join(line.strip() for line in shaped.splitlines()).split() == message.split()


@pytest.fixture
def task_env(lineworks_sandbox, lineworks_conn, tmp_path, monkeypatch):
    """The environment a DAG task of ours sees: LINE WORKS and the archive connection."""
    import json

    domain_id = str(lineworks_sandbox.seed(size="demo", seed=3)["domainId"])
    lineworks_conn(domain_id=domain_id)
    archive = {"conn_type": "sqlite", "host": str(tmp_path / "archive.db")}
    monkeypatch.setenv("AIRFLOW_CONN_LINEWORKS_ARCHIVE", json.dumps(archive))
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(
    ("params", "variable", "named"),
    [
        (
            {"mode": "file", "file": None, "start": None, "end": None},
            None,
            "file: mode 'file' needs the name",
        ),
        ({"mode": "file", "file": "  "}, None, "file: mode 'file' needs the name"),
        ({"mode": "range", "start": None, "end": "2026-06-30"}, None, "start: mode 'range' needs a date"),
        ({"mode": "range", "start": "2026-06-30", "end": "2026-06-01"}, None, "end: the range ends"),
        ({"mode": "rerender", "start": "2020-01-01", "end": "2026-06-30"}, None, "more than import_max_days"),
        ({"mode": "sideways"}, None, "mode: expected one of range, file, rerender"),
        ({"mode": "range"}, '{"lookback_hours": -1}', "lookback_hours"),
        ({"mode": "range"}, '{"import_max_days": "many", "subject_template": "{secret}"}', "import_max_days"),
    ],
)
def test_should_fail_a_configuration_error_at_once_with_a_short_first_line_naming_it(
    task_env, monkeypatch, params, variable, named
):
    from airflow.sdk.exceptions import AirflowFailException

    from operators.talk_logs import import_history

    if variable:
        monkeypatch.setenv("AIRFLOW_VAR_LINEWORKS_SALESFORCE_SETTINGS", variable)
    with pytest.raises(AirflowFailException) as failure:
        import_history(params, {"run_id": "manual__test"})
    first = str(failure.value).splitlines()[0]
    assert named in first and len(first) <= 200
    assert not (task_env / "archive.db").exists()  # refused before anything ran


def test_should_name_the_missing_domain_id_in_one_short_line(task_env, lineworks_conn):
    from airflow.sdk.exceptions import AirflowFailException

    from operators.talk_logs import import_history

    lineworks_conn()  # no Domain ID
    with pytest.raises(AirflowFailException) as failure:
        import_history({"mode": "range", "start": "2026-06-01", "end": "2026-06-02"}, {"run_id": "m"})
    first = str(failure.value).splitlines()[0]
    assert "Domain ID" in first and "domain_id" in first and len(first) <= 200
