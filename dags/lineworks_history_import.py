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
from lineworks_salesforce.settings import file_import_location, file_task_timeouts

# every task's execution_timeout: task_timeout_minutes of include/config/settings.yaml (read at parse time)
TIMEOUTS = file_task_timeouts()
IMPORT_LOCATION = file_import_location()  # shown in the form (the Variable may override it at run time)
# a calendar date of years 2010-2099: the form refuses a five-digit year before a run starts
DATE_PATTERN = r"^20[1-9][0-9]-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


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
                "range: Monitoring API から期間を取り込む / file: 取り込み場所の CSV を取り込む / "
                "rerender: 取り込み済みの期間を現在の設定（マスキング・件名）で作り直す — "
                "range: download a date range; file: import a CSV from the import location; "
                "rerender: render an imported range again with the current settings"
            ),
        ),
        "start": Param(
            "2026-06-01",
            type=["null", "string"],
            format="date",
            pattern=DATE_PATTERN,
            title="開始日 (JST) / Start date",
            description="range・rerender で必須（file では空で可）/ Required for range and rerender",
        ),
        "end": Param(
            "2026-06-30",
            type=["null", "string"],
            format="date",
            pattern=DATE_PATTERN,
            title="終了日 (JST, この日を含む) / End date (included)",
            description=(
                "range・rerender で必須、開始日以降、最長 import_max_days 日（既定 400）/ Required for range "
                "and rerender: on or after the start date, at most import_max_days days (default 400)"
            ),
        ),
        "file": Param(
            None,
            type=["null", "string"],
            maxLength=1024,
            title="CSV ファイル名 (file のみ) / CSV file name (file only)",
            description=(
                f"file で必須。取り込み場所 {IMPORT_LOCATION} にあるファイルの名前（例 export-2026-06.csv）。"
                "場所の外のパスや URL は不可。range・rerender では空 / "
                f"Required for file: the name of a file inside the import location {IMPORT_LOCATION} "
                "(setting import_location), e.g. export-2026-06.csv; no paths outside it, no URLs. "
                "Empty for range and rerender"
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
