"""Shared fixtures: the LINE WORKS sandbox as a real HTTPS server, and connections to it.

Connections are ``AIRFLOW_CONN_*`` environment variables (JSON form), so no Airflow database is needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hooks import lineworks as lineworks_hook
from sandbox.common.server import ThreadedServer
from sandbox.common.tls import TLSFiles, ensure_tls
from sandbox.control_client import SandboxControl
from sandbox.credentials import (
    SalesforceSandboxCredentials,
    SandboxCredentials,
    generate_credentials,
    generate_salesforce_credentials,
)
from sandbox.lineworks.routes import build_app, create_state
from sandbox.lineworks.state import LineWorksState

# Fast, still real, retry timings for tests (the production defaults are seconds to a minute).
FAST_RETRIES = {
    "backoff_base": 0.01,
    "backoff_max": 0.05,
    "rate_limit_wait_max": 2,
    "rate_limits": {"default": 100000, "monitoring": 100000, "audit": 100000},
}


@pytest.fixture(scope="session")
def sandbox_tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return ensure_tls(tmp_path_factory.mktemp("sandbox"))


@pytest.fixture(scope="session")
def credentials() -> SandboxCredentials:
    return generate_credentials()


@pytest.fixture(scope="session")
def _lineworks_server(
    tmp_path_factory: pytest.TempPathFactory, sandbox_tls: TLSFiles
) -> Iterator[tuple[ThreadedServer, LineWorksState]]:
    state = create_state(tmp_path_factory.mktemp("lineworks-state"))
    server = ThreadedServer(build_app(state), sandbox_tls).start()
    yield server, state
    server.stop()


class LineWorksSandbox:
    """A reset, registered sandbox tenant for one test."""

    def __init__(
        self, server: ThreadedServer, state: LineWorksState, tls: TLSFiles, creds: SandboxCredentials
    ) -> None:
        self.url = server.url
        self.state = state
        self.ca_bundle = str(tls.ca_cert)
        self.creds = creds
        self.control = SandboxControl(self.url, self.ca_bundle)

    def seed(self, spec: dict | None = None, **generator) -> dict:
        spec = dict(spec or {})
        if generator:
            spec["generator"] = generator
        return self.control.seed(spec)

    def connection(self, **extra) -> dict:
        return self.creds.connection(self.url, self.ca_bundle, **{**FAST_RETRIES, **extra})

    def state_users(self) -> list[dict]:
        """Members as the sandbox holds them (``GET /users/{id}`` documents)."""
        return [json.loads(r[0]) for r in self.state._db.execute("SELECT doc FROM users ORDER BY ordinal")]

    def state_friends(self) -> list[dict]:
        """LINE friends as the sandbox holds them: contact id, display name, master member."""
        rows = self.state._db.execute(
            "SELECT contact_id, display_name, doc FROM contacts WHERE linked = 1 ORDER BY ordinal"
        )
        return [
            {
                "contactId": cid,
                "display": name,
                "master": json.loads(doc)["linkedExternalUser"]["buddyUserIds"][0],
            }
            for cid, name, doc in rows
        ]


@pytest.fixture
def lineworks_sandbox(_lineworks_server, sandbox_tls, credentials) -> LineWorksSandbox:
    server, state = _lineworks_server
    sandbox = LineWorksSandbox(server, state, sandbox_tls, credentials)
    sandbox.control.reset()
    sandbox.control.seed({"apps": [credentials.app_spec()], "bots": [credentials.bot_spec()]})
    lineworks_hook.clear_token_cache()
    return sandbox


@pytest.fixture
def lineworks_conn(lineworks_sandbox: LineWorksSandbox, monkeypatch: pytest.MonkeyPatch):
    """Point ``lineworks_default`` at the sandbox; returns a setter to change extras."""

    def set_conn(**extra) -> dict:
        conn = lineworks_sandbox.connection(**extra)
        monkeypatch.setenv("AIRFLOW_CONN_LINEWORKS_DEFAULT", json.dumps(conn))
        lineworks_hook.clear_token_cache()
        return conn

    set_conn()
    return set_conn


@pytest.fixture(scope="session")
def salesforce_credentials() -> SalesforceSandboxCredentials:
    return generate_salesforce_credentials()


@pytest.fixture(scope="session")
def _salesforce_server(tmp_path_factory: pytest.TempPathFactory, sandbox_tls: TLSFiles):
    from sandbox.salesforce.routes import build_app as build_salesforce_app
    from sandbox.salesforce.routes import create_state as create_salesforce_state

    state = create_salesforce_state(tmp_path_factory.mktemp("salesforce-state"))
    server = ThreadedServer(build_salesforce_app(state), sandbox_tls).start()
    yield server, state
    server.stop()


class SalesforceSandbox:
    """A reset Salesforce sandbox org with a connected app and its integration user."""

    def __init__(
        self, server: ThreadedServer, state, tls: TLSFiles, creds: SalesforceSandboxCredentials
    ) -> None:
        self.url = server.url
        self.state = state
        self.ca_bundle = str(tls.ca_cert)
        self.creds = creds
        self.control = SandboxControl(self.url, self.ca_bundle)

    def connection(self, **extra) -> dict:
        return self.creds.connection(self.url, self.ca_bundle, **extra)

    def calls(self) -> dict[str, int]:
        return self.control.stats()["calls"]

    def simple_salesforce(self):
        """A plain simple-salesforce client on a password-flow session (independent of our hook)."""
        from simple_salesforce import Salesforce

        from hooks.transport import make_session

        session = make_session(self.ca_bundle)
        token = session.post(
            f"{self.url}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.creds.consumer_key,
                "client_secret": self.creds.consumer_secret,
            },
            timeout=30,
        ).json()
        return Salesforce(
            session_id=token["access_token"],
            instance_url=token["instance_url"],
            session=session,
            version="62.0",
        )


@pytest.fixture
def salesforce_sandbox(_salesforce_server, sandbox_tls, salesforce_credentials) -> SalesforceSandbox:
    server, state = _salesforce_server
    sandbox = SalesforceSandbox(server, state, sandbox_tls, salesforce_credentials)
    sandbox.control.reset()
    sandbox.control.seed(salesforce_credentials.seed_spec())
    return sandbox


@pytest.fixture
def salesforce_conn(salesforce_sandbox: SalesforceSandbox, monkeypatch: pytest.MonkeyPatch):
    """Point ``salesforce_default`` at the sandbox; returns a setter to change extras."""

    def set_conn(**extra) -> dict:
        conn = salesforce_sandbox.connection(**extra)
        monkeypatch.setenv("AIRFLOW_CONN_SALESFORCE_DEFAULT", json.dumps(conn))
        return conn

    set_conn()
    return set_conn


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def pytest_terminal_summary(terminalreporter, config):
    """Report the DAG folder's parse time (measured by tests/dags/test_dag_integrity.py)."""
    from tests.dags.test_dag_integrity import PARSE_REPORT

    report = config.stash.get(PARSE_REPORT, None)
    if report:
        terminalreporter.write_line(f"DAG integrity: {report}")
