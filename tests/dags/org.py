"""The demo company in both sandboxes, with an Airflow environment pointing at them, for real DAG runs
(``airflow dags test``); shared by the DAG tests (fixtures in ``conftest.py``)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from lineworks_salesforce.pools import create_pools
from sandbox.demo_org import register_friends, seed_reps

ROOT = Path(__file__).resolve().parents[2]
RUN_DATE = "2026-11-20T02:00:00+00:00"


def airflow_environment(home: Path) -> dict[str, str]:
    """A migrated, throw-away Airflow home (SQLite) for real DAG runs."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    }
    done = subprocess.run(["airflow", "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    create_pools("airflow", env)  # as make demo / make up do: the scheduler runs no task of a missing pool
    return env


class Org:
    """The two sandboxes seeded with the demo company, and the Airflow environment pointing at them."""

    def __init__(self, lineworks, salesforce, env: dict[str, str], tmp: Path) -> None:
        self.lineworks, self.salesforce, self.tmp = lineworks, salesforce, tmp
        stats = lineworks.seed(size="demo", seed=42)
        self.domain_id = str(stats["domainId"])
        self.archive_path = tmp / "archive.db"
        self.env = {
            **env,
            "AIRFLOW_CONN_LINEWORKS_DEFAULT": json.dumps(lineworks.connection(domain_id=self.domain_id)),
            "AIRFLOW_CONN_SALESFORCE_DEFAULT": json.dumps(
                salesforce.connection(backoff_base=0.01, backoff_max=0.05, bulk_poll_interval=0.05)
            ),
            "AIRFLOW_CONN_LINEWORKS_ARCHIVE": json.dumps(
                {"conn_type": "sqlite", "host": str(self.archive_path)}
            ),
            "LINEWORKS_STAGING_URL": f"file://{tmp / 'staging'}",
        }
        # the import location of file imports: the default, $AIRFLOW_HOME/imports (shared by the tests'
        # Airflow home: each test names its files after its own folder)
        self.imports = Path(env["AIRFLOW_HOME"]) / "imports"
        self.imports.mkdir(exist_ok=True)
        self.users = {u["userId"]: u for u in lineworks.state_users()}
        self.friends = lineworks.state_friends()
        # The reps are Salesforce users too (matched by e-mail).
        self.sf_user_of = seed_reps(salesforce.control, list(self.users.values()))

    def register(self, friends: list[dict], how: str = "none") -> None:
        """Register friends as 社外連絡先 linked to a new Lead / Contact / person Account, or to nothing."""
        register_friends(self.salesforce.control, friends, how)

    def run(self, logical_date: str = RUN_DATE, **extra_env: str) -> subprocess.CompletedProcess:
        return self.dags_test("lineworks_talk_logs", logical_date, **extra_env)

    def dags_test(self, dag_id: str, logical_date: str, **extra_env: str) -> subprocess.CompletedProcess:
        """``airflow dags test`` of ``dag_id``; it must succeed and log its summary."""
        done = subprocess.run(
            ["airflow", "dags", "test", dag_id, logical_date],
            env={**self.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
        assert f"{dag_id} summary" in done.stdout + done.stderr
        return done

    def import_history(self, form: dict, logical_date: str, **extra_env: str) -> subprocess.CompletedProcess:
        """Trigger ``lineworks_history_import`` with the form's values; the caller checks the outcome."""
        return subprocess.run(
            ["airflow", "dags", "test", "lineworks_history_import", logical_date, "-c", json.dumps(form)],
            env={**self.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=600,
        )

    def tasks(self) -> list[dict]:
        sf = self.salesforce.simple_salesforce()
        return sf.query_all(
            "SELECT Id, ActivityKey__c, Subject, Description, WhoId, WhatId, OwnerId, "
            "MessageCount__c, Status, ActivityDate FROM Task"
        )["records"]

    def archive(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.archive_path) as db:
            return db.execute(sql).fetchall()


def new_org(lineworks, salesforce, env: dict[str, str], tmp: Path) -> Org:
    """Both sandboxes reset and seeded again, with a new archive: a fresh deployment."""
    lineworks.control.reset()
    lineworks.control.seed({"apps": [lineworks.creds.app_spec()], "bots": [lineworks.creds.bot_spec()]})
    salesforce.control.reset()
    salesforce.control.seed(salesforce.creds.seed_spec())
    tmp.mkdir(parents=True, exist_ok=True)
    return Org(lineworks, salesforce, env, tmp)


def snapshot(org: Org) -> list[tuple]:
    """What a user sees in Salesforce: every Task's key, subject, lines, placement and owner."""
    return sorted(
        (
            t["ActivityKey__c"],
            t["Subject"],
            t["Description"],
            t["MessageCount__c"],
            t["WhoId"],
            t["WhatId"],
            t["OwnerId"],
        )
        for t in org.tasks()
    )


def connection_secrets(org: Org) -> dict[str, str]:
    """The secrets of both connections (as the environment holds them), by name."""
    lw, sf = org.lineworks, org.salesforce
    secrets = {
        "LINE WORKS client secret": lw.creds.client_secret,
        "LINE WORKS bot secret": lw.creds.bot_secret,
        "Salesforce consumer secret": sf.creds.consumer_secret,
    }
    for name, pem in (
        ("LINE WORKS private key", lw.creds.private_key),
        ("Salesforce private key", sf.creds.private_key),
    ):
        body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
        secrets[name] = body[len(body) // 2]  # any line of the key's body
    return secrets


def assert_logs_keep_secrets_and_talks_out(org: Org, *runs: subprocess.CompletedProcess) -> None:
    """The runs' output (task logs at INFO, as ``airflow dags test`` prints them) holds no secret, no
    access token and no message text (DEVELOPERS.md rule 5; the issue's "No message text in logs")."""
    output = "".join(run.stdout + run.stderr for run in runs)
    lw, sf = org.lineworks, org.salesforce
    secrets = connection_secrets(org)
    lw_tokens = [t for (t,) in lw.state._db.execute("SELECT token FROM tokens")]
    sf_tokens = [t for (t,) in sf.state._db.execute("SELECT token FROM tokens")]
    assert lw_tokens and sf_tokens, "a run issued no token: nothing to look for"
    secrets.update({f"access token #{i}": token for i, token in enumerate(lw_tokens + sf_tokens)})
    leaked = sorted(name for name, value in secrets.items() if value and value in output)
    assert not leaked, f"secrets in the task logs: {leaked}"
    # Message texts, and each line of a multi-line one, as they are and JSON-escaped, long enough not to
    # occur by chance (a short "了解" could be a word of a log line).
    texts = [t for (t,) in lw.state._db.execute("SELECT text FROM messages") if t]
    pieces = {piece.strip() for t in texts for piece in (t, *t.splitlines())}
    distinctive = [p for p in pieces if len(p) >= 8]
    assert len(distinctive) >= 20, "too few message texts to look for"
    forms = {form for p in distinctive for form in (p, json.dumps(p)[1:-1])}
    in_logs = [p for p in forms if p in output]
    assert not in_logs, f"{len(in_logs)} message text(s) in the task logs, e.g. {in_logs[0][:20]!r}…"


def register_all(org: Org) -> None:
    kinds = ["lead", "contact", "person", "none"]
    for i, friend in enumerate(org.friends):
        org.register([friend], kinds[i % len(kinds)])
