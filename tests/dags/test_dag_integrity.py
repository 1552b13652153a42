"""DAG policy as code: every file in dags/ parses with no connection, variable or network access."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
PARSE_REPORT = pytest.StashKey[str]()
ALLOWED_TAGS = {"lineworks", "salesforce", "talk-logs", "friends", "links", "history", "bot"}


def _forbidden(what: str):
    def fail(*args, **kwargs):
        raise AssertionError(f"{what} at DAG parse time")

    return fail


@pytest.fixture(scope="module")
def dagbag(pytestconfig):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseHook, Variable

    patch = pytest.MonkeyPatch()
    patch.setattr(BaseHook, "get_connection", classmethod(_forbidden("connection lookup")))
    patch.setattr(Variable, "get", staticmethod(_forbidden("Variable.get")))
    patch.setattr(socket.socket, "connect", _forbidden("network access"))
    try:
        started = time.perf_counter()
        bag = DagBag(dag_folder=str(DAGS_FOLDER))
        elapsed = time.perf_counter() - started
    finally:
        patch.undo()
    pytestconfig.stash[PARSE_REPORT] = f"parsed {len(bag.dags)} DAG(s) from dags/ in {elapsed:.2f}s"
    return bag


def _dag_files() -> list[str]:
    return sorted(p.name for p in DAGS_FOLDER.glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("filename", _dag_files())
def test_should_import_without_errors(dagbag, filename):
    errors = {Path(k).name: v for k, v in dagbag.import_errors.items()}
    assert filename not in errors, f"{filename} failed to import:\n{errors.get(filename)}"
    assert any(Path(d.fileloc).name == filename for d in dagbag.dags.values()), f"{filename} defines no DAG"


def test_should_parse_the_whole_folder_quickly(dagbag):
    assert dagbag.dags, "no DAGs found"
    assert not dagbag.import_errors


@pytest.mark.parametrize("dag_id", ["lineworks_talk_logs"])
def test_should_exist(dagbag, dag_id):
    assert dag_id in dagbag.dags


def test_should_tag_every_dag_from_the_allowed_set(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert set(dag.tags) <= ALLOWED_TAGS, f"{dag_id}: unknown tags {set(dag.tags) - ALLOWED_TAGS}"


def test_should_set_retries_on_every_task(dagbag):
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag_id}.{task.task_id} has retries={task.retries}"


def test_should_bound_every_task_by_its_configured_execution_timeout(dagbag):
    """A task that hangs (a ReDoS, a stuck download) is stopped: task_timeout_minutes of the settings file."""
    from lineworks_salesforce.settings import file_task_timeouts

    timeouts = file_task_timeouts()
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            assert task.execution_timeout == timeouts[task.task_id], f"{dag_id}.{task.task_id}"


def test_should_keep_monitoring_downloads_to_one_pool_slot_across_dags(dagbag):
    """Every Monitoring download (both DAGs) shares the one-slot pool; Salesforce work its own pool."""
    from lineworks_salesforce.pools import MONITORING_POOL, POOLS, SALESFORCE_POOL

    assert POOLS[MONITORING_POOL][0] == 1
    pools = {(d, t.task_id): t.pool for d, dag in dagbag.dags.items() for t in dag.tasks}
    assert pools[("lineworks_talk_logs", "extract")] == MONITORING_POOL
    assert pools[("lineworks_history_import", "import_history")] == MONITORING_POOL
    for dag_id in ("lineworks_talk_logs", "lineworks_history_import"):
        assert pools[(dag_id, "build")] == pools[(dag_id, "load")] == SALESFORCE_POOL


def test_should_parse_without_loading_pandas():
    """The settings read at parse time (timeouts) stay light: every DAG processor parse pays for imports."""
    import subprocess
    import sys

    code = (
        "import sys; from airflow.dag_processing.dagbag import DagBag; "
        f"bag = DagBag(dag_folder={str(DAGS_FOLDER)!r}); assert bag.dags and not bag.import_errors; "
        "print('pandas' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_should_serialise_talk_log_runs_on_data_intervals(dagbag):
    from airflow.sdk import CronDataIntervalTimetable

    dag = dagbag.dags["lineworks_talk_logs"]
    assert dag.max_active_runs == 1
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
