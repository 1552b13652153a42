"""LINE WORKS talk logs → Salesforce activities (``lineworks_talk_logs``).

Every run covers its data interval (every 10 minutes by default) and re-reads a look-back before the
interval's end, because LINE WORKS publishes message logs late; the archive deduplicates. Runs are
driven by their data interval, never by "now", so ``airflow backfill create`` works.

extract (Monitoring API CSV → staging) → archive (parse, dedupe, quarantine) → resolve (members and
LINE friends) → build (one Task per friend per hour, changed ones only) → load (Salesforce upsert)
→ summary. Large data moves through the staging area and the archive, never XCom.

Connections: ``lineworks_default`` (LINE WORKS), ``salesforce_default`` (Salesforce),
``lineworks_archive`` (sqlite or postgres; a SQLite file in ``$AIRFLOW_HOME`` when not defined).
Settings: ``include/config/settings.yaml``, overridable with the Variable ``lineworks_salesforce_settings``.
Hourly instead of every 10 minutes: set ``LINEWORKS_TALK_LOGS_CRON="0 * * * *"``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import CronDataIntervalTimetable, dag, task

from lineworks_salesforce.settings import file_task_timeouts

# every task's execution_timeout: task_timeout_minutes of include/config/settings.yaml (read at parse time)
TIMEOUTS = file_task_timeouts()

CRON = os.environ.get("LINEWORKS_TALK_LOGS_CRON", "*/10 * * * *")
STAGING_URL = os.environ.get(
    "LINEWORKS_STAGING_URL",
    "file://" + os.path.join(os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow")), "staging"),
)
SALESFORCE_POOL = os.environ.get("LINEWORKS_SALESFORCE_POOL", "default_pool")


@dag(
    dag_id="lineworks_talk_logs",
    schedule=CronDataIntervalTimetable(CRON, timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["lineworks", "salesforce", "talk-logs"],
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=15),
    },
    doc_md=__doc__,
)
def lineworks_talk_logs():
    @task(multiple_outputs=False, execution_timeout=TIMEOUTS["extract"])
    def extract(data_interval_end: datetime | None = None) -> dict:
        """Download the message contents of the look-back window ending at the interval's end."""
        import shutil
        import tempfile

        from airflow.sdk import ObjectStoragePath

        from hooks.lineworks import LineWorksHook
        from operators.talk_logs import require_local_executor, settings

        if STAGING_URL.startswith("file://"):
            require_local_executor("a file:// staging folder (LINEWORKS_STAGING_URL)")
        if data_interval_end is None:
            raise ValueError("lineworks_talk_logs runs need a data interval (trigger with a logical date)")
        cfg = settings()
        start = data_interval_end - timedelta(hours=cfg.lookback_hours)
        dest = ObjectStoragePath(STAGING_URL) / "message-contents" / f"{data_interval_end:%Y%m%dT%H%M%S}.csv"
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as scratch:
            result = LineWorksHook(cfg.lineworks_conn_id).download_message_contents(
                start, data_interval_end, f"{scratch}/talk.csv", language=cfg.csv_language
            )
            with open(result.path, "rb") as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        return {"staged": str(dest), "window": [start.isoformat(), data_interval_end.isoformat()]}

    @task(multiple_outputs=False, execution_timeout=TIMEOUTS["archive"])
    def archive(staged: dict, **context) -> dict:
        """Parse the staged CSV into the archive (dedupe on message keys, quarantine bad rows)."""
        from operators.talk_logs import archive_staged

        return archive_staged(staged, context)

    @task(multiple_outputs=False, execution_timeout=TIMEOUTS["resolve"])
    def resolve(archived: dict, **context) -> dict:
        """Members and LINE friends from LINE WORKS; who each new message is with."""
        from hooks.lineworks import LineWorksHook
        from lineworks_salesforce.pipelines import refresh_directory
        from lineworks_salesforce.pipelines import resolve as resolve_step
        from operators.talk_logs import make_run

        run = make_run(context)
        directory = refresh_directory(run, LineWorksHook(run.settings.lineworks_conn_id))
        return {**directory, **resolve_step(run)}

    @task(multiple_outputs=False, pool=SALESFORCE_POOL, execution_timeout=TIMEOUTS["build"])
    def build(resolved: dict, **context) -> dict:
        """Render each pending (friend, hour) as one Task; only changed ones go to the outbox."""
        from hooks.salesforce import SalesforceActivityHook
        from lineworks_salesforce.pipelines import build as build_step
        from operators.talk_logs import make_run

        run = make_run(context)
        return build_step(run, SalesforceActivityHook(run.settings.salesforce_conn_id))

    @task(multiple_outputs=False, pool=SALESFORCE_POOL, execution_timeout=TIMEOUTS["load"])
    def load(built: dict, **context) -> dict:
        """Upsert the outbox to Salesforce (Collections or one Bulk 2.0 job); store results."""
        from hooks.salesforce import SalesforceActivityHook
        from lineworks_salesforce.pipelines import load as load_step
        from operators.talk_logs import make_run

        run = make_run(context)
        return load_step(run, SalesforceActivityHook(run.settings.salesforce_conn_id))

    @task(multiple_outputs=False, execution_timeout=TIMEOUTS["summary"])
    def summary(archived: dict, resolved: dict, built: dict, loaded: dict) -> dict:
        """One line per run, no message text: what came in, what was quarantined, what Salesforce got."""
        import logging

        result = {
            "source": archived.get("source"),
            "rows_downloaded": archived["rows"],
            "new_messages": archived["new_messages"],
            "quarantined": archived["quarantined"],
            "resolution": resolved.get("resolution", {}),
            "unresolved_participants": resolved.get("issues", {}),
            "created": loaded["created"],
            "updated": loaded["updated"],
            "unchanged": built["unchanged"],
            "rejected": loaded["rejected"],
            "deleted_stale_parts": loaded.get("deleted", 0),
            "stale_parts_not_deleted": loaded.get("delete_refused", 0),
            "waiting_for_registration": built["waiting_friends"],
            "salesforce_calls": built.get("salesforce_calls", 0) + loaded["salesforce_calls"],
        }
        logging.getLogger("airflow.task").info("lineworks_talk_logs summary: %s", result)
        return result

    staged = extract()
    archived = archive(staged)
    resolved = resolve(archived)
    built = build(resolved)
    loaded = load(built)
    summary(archived, resolved, built, loaded)


lineworks_talk_logs()
