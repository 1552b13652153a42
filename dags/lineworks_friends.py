"""The registration bot's prompts (``lineworks_friends``), every 10 minutes.

Each run looks at the LINE friends created since the last window it listed (with
``friends_lookback_hours`` of look-back) and asks each served rep — a LINE WORKS member whose Salesforce
user holds the ``LineWorks_User`` or ``LineWorks_Admin`` permission set — once, by a bot message with
buttons, what to do with that friend:
新規登録 / 既存の社外連絡先に紐づけ / 対象外. A friend already on a 社外連絡先 gets
「既に〇〇さんは社外連絡先に作成済です」 instead; a friend whose 社外連絡先 link was removed is offered
the buttons again. The first run ever queues every existing friend (first install). Prompts wait in a
queue in the archive: a run sends at most ``prompts_per_run`` of them, this window's friends first, paced
at ``prompts_per_minute``; retries and later runs never ask twice, and failed sends are tried again by the
next run. See docs/bot.md.

Connections: ``lineworks_default`` (Bot ID and Bot Secret), ``salesforce_default``, ``lineworks_archive``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import CronDataIntervalTimetable, dag, task

from lineworks_salesforce.settings import file_task_timeouts

TIMEOUTS = file_task_timeouts()


@dag(
    dag_id="lineworks_friends",
    schedule=CronDataIntervalTimetable("*/10 * * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["lineworks", "salesforce", "bot"],
    default_args={"retries": 3, "retry_delay": timedelta(minutes=1), "retry_exponential_backoff": 2.0},
    doc_md=__doc__,
)
def lineworks_friends():
    @task(multiple_outputs=False, execution_timeout=TIMEOUTS["prompt_friends"])
    def prompt_friends(**context) -> dict:
        """Ask each served rep once about each new LINE friend."""
        from operators.bot import prompt_friends as prompt

        return prompt(context)

    prompt_friends()


lineworks_friends()
