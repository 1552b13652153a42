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
