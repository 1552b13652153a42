"""LINE WORKS talk logs → Salesforce activities (``lineworks_talk_logs``).

Each run covers its data interval (every 10 minutes by default) and re-reads a look-back before the
interval's end, because LINE WORKS publishes message logs late; later steps deduplicate.
Runs are driven by their data interval, never by "now", so ``airflow backfill create`` works.

So far the DAG has its **extract** step: the Monitoring API message-contents CSV of
``[end - look-back, end)`` is downloaded through :class:`hooks.lineworks.LineWorksHook` into the
staging area (``LINEWORKS_STAGING_URL``, a local folder by default); tasks pass its path, never data.
The archive → build → load steps follow (see docs/architecture.md).

Connection: ``lineworks_default`` (type ``lineworks``).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import CronDataIntervalTimetable, dag, task

LOOKBACK = timedelta(hours=2)
STAGING_URL = os.environ.get(
    "LINEWORKS_STAGING_URL",
    "file://" + os.path.join(os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow")), "staging"),
)


@dag(
    dag_id="lineworks_talk_logs",
    schedule=CronDataIntervalTimetable("*/10 * * * *", timezone="UTC"),
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
    @task
    def extract(data_interval_end: datetime | None = None, run_id: str | None = None) -> str:
        """Download the message contents of the look-back window ending at the interval's end."""
        import shutil
        import tempfile

        from airflow.sdk import ObjectStoragePath

        from hooks.lineworks import LineWorksHook

        if data_interval_end is None:
            raise ValueError("lineworks_talk_logs runs need a data interval (trigger with a logical date)")
        start = data_interval_end - LOOKBACK
        dest = ObjectStoragePath(STAGING_URL) / "message-contents" / f"{data_interval_end:%Y%m%dT%H%M%S}.csv"
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as scratch:
            result = LineWorksHook().download_message_contents(
                start, data_interval_end, f"{scratch}/talk.csv"
            )
            with open(result.path, "rb") as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        return str(dest)

    extract()


lineworks_talk_logs()
