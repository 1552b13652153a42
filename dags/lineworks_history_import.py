"""Import LINE WORKS talk history into Salesforce (``lineworks_history_import``), triggered by hand.

Choose in the trigger form either a **date range** (downloaded from the Monitoring API in windows of
at most 31 days, one at a time, as the API requires; at most ``import_max_days`` days, default 400) or
a **CSV file** exported from the LINE WORKS admin console, by its *name* inside the import location an
admin configured (setting ``import_location``: a local folder or an object-storage prefix, default
``$AIRFLOW_HOME/imports``; only regular files of at most ``import_max_bytes``; file mode can be switched
off with ``file_import_enabled: false``). Every archived line records its source (download window, or
file name + SHA-256 + the triggering user and run); ``lineworks-salesforce archive forget --source
<sha256>`` removes an imported file's lines again. Both go through the same
archive → resolve → build → load steps as ``lineworks_talk_logs``, with the same keys, so an import
that overlaps scheduled runs duplicates nothing. Progress is logged per window.

**rerender** downloads nothing: it renders the date range's archived hours again with the current
settings (after adding a ``redact_patterns`` entry or changing ``subject_template``) and updates the
Tasks whose content changed; unchanged ones cost no Salesforce call.

API budget: each 31-day window costs one Monitoring API download (10/min), and the load uses one
Bulk API 2.0 job per run once 2,000 or more activities change.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import Param, dag, task

from lineworks_salesforce.pools import MONITORING_POOL, SALESFORCE_POOL
from lineworks_salesforce.settings import file_task_timeouts

# every task's execution_timeout: task_timeout_minutes of include/config/settings.yaml (read at parse time)
TIMEOUTS = file_task_timeouts()


@dag(
    dag_id="lineworks_history_import",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["lineworks", "salesforce", "history"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=2), "retry_exponential_backoff": 2.0},
    params={
        "mode": Param(
            "range",
            enum=["range", "file", "rerender"],
            title="取り込み方法 / Source",
            description=(
                "range: Monitoring API の期間 / file: 管理画面からエクスポートした CSV / "
                "rerender: 取り込み済みの期間を現在の設定（マスキング・件名）で作り直す"
            ),
        ),
        "start": Param("2026-06-01", type="string", format="date", title="開始日 (JST) / Start date"),
        "end": Param(
            "2026-06-30", type="string", format="date", title="終了日 (JST, この日を含む) / End date"
        ),
        "file": Param(
            "",
            type="string",
            maxLength=1024,
            title="CSV ファイル名 (file の場合) / CSV file name",
            description=(
                "取り込み場所（設定 import_location、既定 $AIRFLOW_HOME/imports）にあるファイルの名前 / "
                "the name of a file inside the import location (setting import_location, default "
                "$AIRFLOW_HOME/imports); no paths outside it, no URLs"
            ),
        ),
    },
    doc_md=__doc__,
)
def lineworks_history_import():
    @task(multiple_outputs=False, pool=MONITORING_POOL, execution_timeout=TIMEOUTS["import_history"])
    def import_history(params: dict | None = None, **context) -> dict:
        """Archive the chosen range (window by window) or the file from the import location."""
        from operators.talk_logs import import_history as import_step

        return import_step(params, context)

    @task(multiple_outputs=False, execution_timeout=TIMEOUTS["resolve"])
    def resolve(archived: dict, **context) -> dict:
        """Members and LINE friends from LINE WORKS; who each new message is with."""
        from operators.talk_logs import resolve_task

        return resolve_task(context)

    @task(multiple_outputs=False, pool=SALESFORCE_POOL, execution_timeout=TIMEOUTS["build"])
    def build(resolved: dict, **context) -> dict:
        """Render each pending (friend, hour) as Tasks; only changed ones go to the outbox."""
        from operators.talk_logs import build_task

        return build_task(context)

    @task(multiple_outputs=False, pool=SALESFORCE_POOL, execution_timeout=TIMEOUTS["load"])
    def load(built: dict, archived: dict, **context) -> dict:
        """Upsert the outbox to Salesforce; one summary line for the import."""
        from operators.talk_logs import history_load_task

        return history_load_task(built, archived, context)

    archived = import_history()
    built = build(resolve(archived))
    load(built, archived)


lineworks_history_import()
