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

from lineworks_salesforce.pools import MONITORING_POOL, SALESFORCE_POOL
from lineworks_salesforce.settings import airflow_home, file_task_timeouts

# every task's execution_timeout: task_timeout_minutes of include/config/settings.yaml (read at parse time)
TIMEOUTS = file_task_timeouts()

CRON = os.environ.get("LINEWORKS_TALK_LOGS_CRON", "*/10 * * * *")
STAGING_URL = os.environ.get(
    "LINEWORKS_STAGING_URL",
    "file://" + os.path.join(airflow_home(), "staging"),
)


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
    @task(multiple_outputs=False, pool=MONITORING_POOL, execution_timeout=TIMEOUTS["extract"])
    def extract(data_interval_end: datetime | None = None) -> dict:
        """Download the message contents of the look-back window ending at the interval's end."""
        from operators.talk_logs import extract_window

        return extract_window(data_interval_end, STAGING_URL)

    @task(multiple_outputs=False, execution_timeout=TIMEOUTS["archive"])
    def archive(staged: dict, **context) -> dict:
        """Parse the staged CSV into the archive (dedupe on message keys, quarantine bad rows)."""
        from operators.talk_logs import archive_staged

        return archive_staged(staged, context)

    @task(multiple_outputs=False, execution_timeout=TIMEOUTS["resolve"])
    def resolve(archived: dict, **context) -> dict:
        """Members and LINE friends from LINE WORKS; who each new message is with."""
        from operators.talk_logs import resolve_task

        return resolve_task(context)

    @task(multiple_outputs=False, pool=SALESFORCE_POOL, execution_timeout=TIMEOUTS["build"])
    def build(resolved: dict, **context) -> dict:
        """Render each pending (friend, hour) as one Task; only changed ones go to the outbox."""
        from operators.talk_logs import build_task

        return build_task(context)

    @task(multiple_outputs=False, pool=SALESFORCE_POOL, execution_timeout=TIMEOUTS["load"])
    def load(built: dict, **context) -> dict:
        """Upsert the outbox to Salesforce (Collections or one Bulk 2.0 job); store results."""
        from operators.talk_logs import load_task

        return load_task(context)

    @task(multiple_outputs=False, execution_timeout=TIMEOUTS["summary"])
    def summary(archived: dict, resolved: dict, built: dict, loaded: dict) -> dict:
        """One line per run, no message text: what came in, what was quarantined, what Salesforce got."""
        from operators.talk_logs import talk_logs_summary

        return talk_logs_summary(archived, resolved, built, loaded)

    staged = extract()
    archived = archive(staged)
    resolved = resolve(archived)
    built = build(resolved)
    loaded = load(built)
    summary(archived, resolved, built, loaded)


lineworks_talk_logs()
