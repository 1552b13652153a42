"""The Airflow side of the registration bot's callback app: its credentials from the ``lineworks``
connection, its replay guard on the archive, and what it does with an accepted event.

Every callback is verified by the app (signature, bot id, size, shape, replays); an accepted event goes
to :class:`lineworks_salesforce.bot.conversation.Conversation` (the taps, the search, the help text).
"""

from __future__ import annotations

import functools
import logging

from lineworks_salesforce.bot.callback import BotCredentials, BotEvent

log = logging.getLogger(__name__)


def _lineworks():
    from hooks.lineworks import LineWorksHook
    from operators.talk_logs import settings

    return LineWorksHook(settings().lineworks_conn_id)


def bot_credentials() -> BotCredentials:
    """The Bot ID and Bot Secret of the ``lineworks`` connection (empty: every callback is refused 401)."""
    try:
        s = _lineworks().settings
    except Exception as exc:  # no connection, bad settings: refuse everything rather than fail open
        log.error(
            "bot callback: no usable LINE WORKS connection (%s): refusing callbacks", type(exc).__name__
        )
        return BotCredentials("", "")
    return BotCredentials(s.bot_id or "", s.bot_secret or "")


def replay_guard():
    from operators.talk_logs import settings

    return _guard(settings().archive_conn_id)


@functools.lru_cache(maxsize=4)
def _salesforce(conn_id: str):
    """One Salesforce hook per process and connection: one login (again only when the session expires)."""
    from hooks.salesforce import SalesforceActivityHook

    return SalesforceActivityHook(conn_id)


@functools.lru_cache(maxsize=4)
def _guard(archive_conn_id: str):
    """One archive (engine and pool) per API server process and connection id."""
    from lineworks_salesforce.bot.replays import ArchiveReplayGuard
    from operators.talk_logs import archive_for

    return ArchiveReplayGuard(archive_for(archive_conn_id, migrate=True))


def handle_event(event: BotEvent) -> None:
    """Run in the background after the 200: the rep's tap or text, answered by the conversation."""
    from lineworks_salesforce.bot.conversation import Conversation
    from operators.talk_logs import settings

    cfg = settings()
    archive = _guard(cfg.archive_conn_id).archive
    outcome = Conversation(archive, _lineworks(), _salesforce(cfg.salesforce_conn_id)).handle(event)
    log.info("bot: %s event from a member: %s", event.type, outcome)


def prompt_friends(context: dict) -> dict:
    """``lineworks_friends``' task: prompt each served rep once about each LINE friend new in the run's
    data interval (every existing friend on the first run ever)."""
    from hooks.lineworks import LineWorksHook
    from hooks.salesforce import SalesforceActivityHook
    from lineworks_salesforce.pipelines.friends import prompt_new_friends
    from operators.talk_logs import configuration_error, make_run

    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        raise configuration_error("lineworks_friends needs a data interval: trigger it with a logical date")
    run = make_run(context, migrate=True)
    cfg = run.settings
    # the prompts' own pace: prompts_per_minute, never above the connection's own limit for bot messages (the
    # callback app's replies share the tenant's limit: leave them room, as the default, half, does)
    limits = LineWorksHook(cfg.lineworks_conn_id).settings.rate_limits
    pace = min(cfg.prompts_per_minute, int(limits.get("bot.message", limits["default"])))
    lineworks = LineWorksHook(cfg.lineworks_conn_id, rate_limits={"bot.message": pace})
    salesforce = SalesforceActivityHook(cfg.salesforce_conn_id)
    summary = prompt_new_friends(run, lineworks, salesforce, start, end, pace=pace)
    log.info("lineworks_friends summary: %s", summary)
    return summary
