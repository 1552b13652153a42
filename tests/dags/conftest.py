"""Fixtures of the DAG tests: one migrated Airflow home per session, the demo company per test."""

from __future__ import annotations

import pytest

from tests.dags.org import Org, airflow_environment, new_org


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    return airflow_environment(tmp_path_factory.mktemp("airflow-home"))


@pytest.fixture
def org(airflow_env, lineworks_sandbox, salesforce_sandbox, tmp_path) -> Org:
    return new_org(lineworks_sandbox, salesforce_sandbox, airflow_env, tmp_path)
