"""Import LINE WORKS talk history into Salesforce (``lineworks_history_import``), triggered by hand.

Choose in the trigger form either a **date range** (downloaded from the Monitoring API in windows of
at most 31 days, one at a time, as the API requires) or a **CSV file** exported from the LINE WORKS
admin console (a path or an object-storage URL the workers can read). Both go through the same
archive → resolve → build → load steps as ``lineworks_talk_logs``, with the same keys, so an import
that overlaps scheduled runs duplicates nothing. Progress is logged per window.

**rerender** downloads nothing: it renders the date range's archived hours again with the current
settings (after adding a ``redact_patterns`` entry or changing ``subject_template``) and updates the
Tasks whose content changed; unchanged ones cost no Salesforce call.

API budget: each 31-day window costs one Monitoring API download (10/min), and the load uses one
Bulk API 2.0 job per run once 2,000 or more activities change.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import Param, dag, task

# Same pool as lineworks_talk_logs, so an import and the schedule never load Salesforce at once.
SALESFORCE_POOL = os.environ.get("LINEWORKS_SALESFORCE_POOL", "default_pool")


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
        "file": Param("", type="string", title="CSV ファイル (file の場合) / CSV path or URL"),
    },
    doc_md=__doc__,
)
def lineworks_history_import():
    @task(multiple_outputs=False)
    def import_history(params: dict | None = None, **context) -> dict:
        """Archive the chosen range (window by window) or the uploaded CSV."""
        import logging
        import shutil
        import tempfile
        from collections import Counter
        from zoneinfo import ZoneInfo

        from airflow.sdk import ObjectStoragePath
        from airflow.sdk.exceptions import AirflowFailException

        from hooks.lineworks import DOWNLOAD_MAX_WINDOW, LineWorksHook, split_windows
        from operators.talk_logs import make_run
        from talkpipeline import archive_file, history_request

        log = logging.getLogger("airflow.task")
        try:
            request = history_request(params or {})
        except ValueError as exc:  # a wrong form fails at once: retrying cannot fix it
            raise AirflowFailException(f"lineworks_history_import: {exc}") from None
        run = make_run(context)
        totals: Counter = Counter()
        quarantined: Counter = Counter()

        def add(result: dict) -> None:
            totals.update(rows=result["rows"], new_messages=result["new_messages"])
            quarantined.update(result["quarantined"])

        if request.mode == "rerender":
            from talkpipeline import mark_for_rerender

            marked = mark_for_rerender(run, request.first_day, request.last_day)
            log.info(
                "history import: %s – %s to render again with the current settings; %d hour(s) pending",
                request.first_day,
                request.last_day,
                marked["pending_hours"],
            )
            return {"rows": 0, "new_messages": 0, "quarantined": {}, **marked}
        with tempfile.TemporaryDirectory() as scratch:
            if request.mode == "file":
                source = ObjectStoragePath(request.file)
                local = f"{scratch}/import.csv"
                with source.open("rb") as src, open(local, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                add(archive_file(run, local, source=source.name))
                log.info("history import: file %s archived (%d rows)", source.name, totals["rows"])
            else:
                tz = ZoneInfo(run.settings.timezone)
                start = datetime.combine(request.first_day, datetime.min.time(), tzinfo=tz)
                end = datetime.combine(request.last_day, datetime.min.time(), tzinfo=tz) + timedelta(days=1)
                hook = LineWorksHook(run.settings.lineworks_conn_id)
                windows = split_windows(start, end, DOWNLOAD_MAX_WINDOW)
                for i, (lower, upper) in enumerate(windows, 1):
                    path = f"{scratch}/window-{i}.csv"
                    hook.download_message_contents(lower, upper, path, language=run.settings.csv_language)
                    add(archive_file(run, path, source=f"history-{lower:%Y%m%d}-{upper:%Y%m%d}.csv"))
                    log.info(
                        "history import: window %d/%d (%s – %s) archived; %d rows, %d new so far",
                        i,
                        len(windows),
                        lower.date(),
                        upper.date(),
                        totals["rows"],
                        totals["new_messages"],
                    )
        return {
            "rows": totals["rows"],
            "new_messages": totals["new_messages"],
            "quarantined": dict(quarantined),
        }

    @task(multiple_outputs=False)
    def resolve(archived: dict, **context) -> dict:
        from hooks.lineworks import LineWorksHook
        from operators.talk_logs import make_run
        from talkpipeline import refresh_directory
        from talkpipeline import resolve as resolve_step

        run = make_run(context)
        return {**refresh_directory(run, LineWorksHook(run.settings.lineworks_conn_id)), **resolve_step(run)}

    @task(multiple_outputs=False, pool=SALESFORCE_POOL)
    def build(resolved: dict, **context) -> dict:
        from hooks.salesforce import SalesforceActivityHook
        from operators.talk_logs import make_run
        from talkpipeline import build as build_step

        run = make_run(context)
        return build_step(run, SalesforceActivityHook(run.settings.salesforce_conn_id))

    @task(multiple_outputs=False, pool=SALESFORCE_POOL)
    def load(built: dict, archived: dict, **context) -> dict:
        import logging

        from hooks.salesforce import SalesforceActivityHook
        from operators.talk_logs import make_run
        from talkpipeline import load as load_step

        run = make_run(context)
        loaded = load_step(run, SalesforceActivityHook(run.settings.salesforce_conn_id))
        logging.getLogger("airflow.task").info(
            "lineworks_history_import summary: %s", {**archived, **loaded, "unchanged": built["unchanged"]}
        )
        return loaded

    archived = import_history()
    built = build(resolve(archived))
    load(built, archived)


lineworks_history_import()
