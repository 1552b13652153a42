"""The plugin file: loaded by Airflow's plugin manager; its backport of the port-less connection Test."""

from __future__ import annotations

import importlib
import sys

import pytest

ROUTES = "airflow.api_fastapi.core_api.routes.public.connections"


@pytest.fixture
def routes(monkeypatch):
    import airflow.api_fastapi.app  # noqa: F401 - as in the API server

    module = importlib.import_module(ROUTES)
    monkeypatch.setattr(module, "_same_endpoint", module._same_endpoint)  # restored after the test
    return module


def test_should_make_port_0_mean_no_port_in_the_api_server_only_while_airflow_lacks_the_fix(routes):
    import lineworks_salesforce_plugin as plugin

    lacks_fix = not routes._same_endpoint(0, None)
    assert plugin.backport_portless_connection_test() is lacks_fix
    assert routes._same_endpoint(0, None)  # what the UI sends for a connection without a port
    assert routes._same_endpoint("", None) and routes._same_endpoint(None, None)
    assert not routes._same_endpoint(443, None) and not routes._same_endpoint("other.example", None)
    assert not routes._same_endpoint(0, 5432)  # a stored port still differs from "none"
    assert plugin.backport_portless_connection_test() is False  # once


def test_should_leave_other_processes_alone(monkeypatch):
    import lineworks_salesforce_plugin as plugin

    monkeypatch.delitem(sys.modules, "airflow.api_fastapi.app", raising=False)
    assert plugin.backport_portless_connection_test() is False
