"""Activity loader: API calls and wall time, ours vs one REST call per record vs the stock operator.

For 1,000 and 100,000 Task records, each on a freshly reset Salesforce sandbox (own process, real HTTPS):

* **ours** — :meth:`ActivityLoader.upsert_activities` (sObject Collections below 2,000 records, one
  Bulk API 2.0 job from 2,000 on);
* **per-record REST** — ``PATCH /sobjects/Task/ActivityKey__c/<key>`` for each record (simple-salesforce);
* **stock operator** — the provider's ``SalesforceBulkOperator`` (Bulk API v1, ``batch_size=10000``), run
  unchanged; only the hook it builds is pointed at the sandbox, because the stock hook cannot take a login
  URL or CA from a connection.

Calls are the sandbox's API-call counter (the same count Salesforce charges against the daily limit).
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone
from unittest import mock

from sandbox.credentials import ensure_salesforce_credentials
from sandbox.process import ROOT, SandboxProcess

SIZES = (1_000, 100_000)
JST = timezone(timedelta(hours=9))


def _records(n: int) -> list[dict]:
    start = datetime(2026, 11, 20, 9, tzinfo=JST)
    return [
        {
            "ActivityKey__c": f"LW-40029600-{i:08d}-2026112009",
            "Subject": "LINE WORKSログ",
            "Description": f"09:{i % 60:02d} 山田 太郎 → はなちゃん: お世話になっております。({i})",
            "Status": "Completed",
            "ActivityDate": "2026-11-20",
            "MessageCount__c": 1 + i % 5,
            "FirstMessageAt__c": start.isoformat(),
            "LastMessageAt__c": (start + timedelta(minutes=59)).isoformat(),
        }
        for i in range(n)
    ]


def _api_calls(sandbox: SandboxProcess) -> int:
    calls = sandbox.salesforce_control.stats()["calls"]
    return sum(v for k, v in calls.items() if "!" not in k and not k.startswith("oauth."))


def _fresh(sandbox: SandboxProcess, creds) -> None:
    sandbox.salesforce_control.reset()
    sandbox.salesforce_control.configure(daily_api_limit=10_000_000)
    sandbox.salesforce_control.seed(creds.seed_spec())


def _ours(records: list[dict]) -> None:
    from hooks.activity_loader import ActivityLoader
    from hooks.salesforce import SalesforceActivityHook

    report = ActivityLoader(SalesforceActivityHook()).upsert_activities(records)
    assert report.count("created") == len(records), report.summary()


def _per_record(records: list[dict]) -> None:
    from hooks.salesforce import SalesforceActivityHook

    sf = SalesforceActivityHook().get_conn()
    for record in records:
        body = {k: v for k, v in record.items() if k != "ActivityKey__c"}
        sf.Task.upsert(f"ActivityKey__c/{record['ActivityKey__c']}", body)


def _stock_operator(records: list[dict]) -> None:
    from airflow.providers.salesforce.operators.bulk import SalesforceBulkOperator

    from hooks.salesforce import SalesforceActivityHook

    stock_bulk = SalesforceBulkOperator(
        task_id="stock_bulk",
        operation="upsert",
        object_name="Task",
        payload=records,
        external_id_field="ActivityKey__c",
        batch_size=10_000,
        do_xcom_push=False,
    )
    with mock.patch(
        "airflow.providers.salesforce.operators.bulk.SalesforceHook",
        lambda salesforce_conn_id: SalesforceActivityHook(salesforce_conn_id),
    ):
        stock_bulk.execute(context={})


APPROACHES = {
    "ours": _ours,
    "per-record REST": _per_record,
    "stock SalesforceBulkOperator (v1)": _stock_operator,
}


def run(sizes: tuple[int, ...] = SIZES) -> dict:
    state_dir = ROOT / ".sandbox" / "bench"
    creds = ensure_salesforce_credentials(state_dir)
    results: dict = {}
    with SandboxProcess(state_dir) as sandbox:
        os.environ["AIRFLOW_CONN_SALESFORCE_DEFAULT"] = json.dumps(
            creds.connection(sandbox.salesforce_url, sandbox.ca_bundle)
        )
        for n in sizes:
            records = _records(n)
            for name, load in APPROACHES.items():
                _fresh(sandbox, creds)
                started = time.perf_counter()
                load(records)
                elapsed = time.perf_counter() - started
                calls = _api_calls(sandbox)
                tasks = sandbox.salesforce_control.stats()["records"].get("Task", 0)
                results[f"{name} / {n}"] = {
                    "records": n,
                    "api_calls": calls,
                    "seconds": round(elapsed, 2),
                    "tasks_in_org": tasks,
                }
                print(
                    f"{n:>7,} records  {name:<34} {calls:>7,} API calls  {elapsed:8.1f} s  "
                    f"({tasks:,} Tasks in the org)",
                    flush=True,
                )
    return results
