"""The registration bot in ``make demo``: prompts sent by ``lineworks_friends``, answered as the reps would.

The callback app is the product's own (:func:`lineworks_salesforce.bot.callback.create_app` with the real
:class:`~lineworks_salesforce.bot.conversation.Conversation`, hooks and archive), served over HTTPS in this
process; the reps' taps and typed names are sent to it by the LINE WORKS sandbox's callback sender, signed
as LINE WORKS signs them. (Under ``make up`` the same app runs inside Airflow's API server, mounted by the
plugin file.) After the reps answered, the demo plays the Salesforce admin who links some 社外連絡先 to a
Lead, Contact or person Account (取引先連携), so the Tasks show every placement.
"""

from __future__ import annotations

import time
from typing import Any

# The reps' answers: 既存の社外連絡先に紐づけ for the friend whose business card a rep scanned before, 対象外
# for the last friend (its talks are archived, never loaded), 新規登録 for the others
LINK_FRIEND = 1
ADMIN_LINKS = ("lead", "contact", "person", "none")  # 取引先連携 of each registered 社外連絡先, in turn
ADMIN_LABELS = {"lead": "リード", "contact": "取引先責任者", "person": "個人取引先", "none": "社外連絡先のみ"}


def serve_callback_app(tls, archive, bot_id: str, bot_secret: str):
    """The bot's callback app, wired to the real conversation, on a free HTTPS port of this machine."""
    from hooks.lineworks import LineWorksHook
    from hooks.salesforce import SalesforceActivityHook
    from lineworks_salesforce.bot.callback import BotCredentials, create_app
    from lineworks_salesforce.bot.conversation import Conversation
    from lineworks_salesforce.bot.replays import ArchiveReplayGuard
    from sandbox.common.server import ThreadedServer

    guard = ArchiveReplayGuard(archive)
    conversation = Conversation(archive, LineWorksHook(), SalesforceActivityHook(), run_id="demo")

    def handle(event) -> None:
        conversation.handle(event)

    app = create_app(lambda: BotCredentials(str(bot_id), bot_secret), lambda: guard, handle)
    return ThreadedServer(app, tls).start()


def said_to(control, bot_id: str, member: str) -> list[dict[str, Any]]:
    return [m["content"] for m in control.bot_messages(bot_id) if m["targetId"] == member]


def wait_for_reply(control, bot_id: str, member: str, before: int, timeout: float = 30) -> dict[str, Any]:
    """The bot's first message to ``member`` after the ``before`` it had already said."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        said = said_to(control, bot_id, member)
        if len(said) > before:
            return said[before]
        time.sleep(0.1)
    raise SystemExit("the bot did not answer in time")


def answer(control, bot_id: str, member: str, spec: dict[str, Any], replies: int = 1) -> list[dict[str, Any]]:
    """Send the rep's tap or text (a signed callback) and return the bot's ``replies`` answers."""
    before = len(said_to(control, bot_id, member))
    sent = control.send_callback(bot_id, {**spec, "userId": member})
    if not sent.get("delivered"):
        raise SystemExit(f"the callback was not delivered: {sent.get('status') or sent.get('error')}")
    return [wait_for_reply(control, bot_id, member, before + i) for i in range(replies)]


def label(content: dict[str, Any]) -> str:
    """One line of what the bot said (for the demo's output)."""
    if content["type"] == "text":
        return content["text"].splitlines()[0]
    if content["type"] == "button_template":
        return (
            content["contentText"].split("（")[0]
            + " ["
            + " / ".join(a["label"] for a in content["actions"])
            + "]"
        )
    if content["type"] == "carousel":
        return "[候補] " + " / ".join(c["title"] for c in content["columns"])
    return f"[{content['type']}]"
