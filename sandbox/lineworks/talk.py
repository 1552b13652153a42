"""``GET /talk``: a page that stands in for the LINE WORKS app, to try the bot as a rep (``make up``).

Pick a member; the bot's messages to that member are shown as the app shows them (text, button template,
carousel, quick replies). A tap or a typed line is sent to the bot as the signed callback the real service
sends (through ``POST /_sandbox/bots/{botId}/callbacks``, the sandbox's callback sender). "友だちを追加"
makes a new LINE friend of the member now (``POST /_sandbox/friends``), as a customer adding the rep in
LINE does. Every text is put in the page with ``textContent``, never as HTML.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import HTMLResponse

PAGE = (Path(__file__).with_name("talk.html")).read_text(encoding="utf-8")


async def talk_page() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"Cache-Control": "no-store"})
