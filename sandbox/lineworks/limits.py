"""Documented LINE WORKS limits, each with its source, and the checks that enforce them.

DOC:<slug> = https://developers.worksmobile.com/jp/docs/<slug>. See ``shared/reference/lineworks-api.md``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sandbox.lineworks.errors import InvalidParameter, TooManyRequests

# --- rate limits (DOC:rate-limits): per tenant and per API, requests per minute -----------------
RATE_LIMIT_STANDARD = 240  # Standard / Advanced plans
RATE_LIMIT_MONITORING = 10  # monitoring.read
RATE_LIMIT_AUDIT = 10  # audit, audit.read
RATE_WINDOW_SECONDS = 60

# --- ranges ----------------------------------------------------------------------------------------
DOWNLOAD_MAX_DAYS = 31  # DOC:content-log-download, DOC:audit-log-download
CONTACTS_MAX_WINDOW_DAYS = 7  # DOC:contact-list
CONTACTS_MAX_RESULTS = 50_000  # DOC:contact-list ("at most 50,000 contacts")
CONTACTS_COUNT_DEFAULT, CONTACTS_COUNT_MAX = 100, 500  # DOC:contact-list
USERS_COUNT_DEFAULT, USERS_COUNT_MAX = 100, 100  # UNCONFIRMED (third-party lib default 100)
JWT_MAX_LIFETIME_SECONDS = 3600  # "最長 60 分有効" (qiita iwaohig ba41a43a5fc46ba07051)

# --- request sizes: the sandbox's own caps (UNCONFIRMED: LINE WORKS documents none) ---------------
JWT_MAX_LENGTH = 16_384  # an RS256 assertion is under 1 KB
TOKEN_FORM_MAX_BYTES = 64 * 1024
API_JSON_MAX_BYTES = 1024 * 1024  # a bot message: text up to 2,000 characters, templates, flex

# --- bot message content (DOC:bot-send-content and subpages, DOC:bot-actionobject) ----------------
TEXT_MAX = 2000  # DOC:bot-send-text
BUTTONS_MAX = 10  # DOC:bot-send-button
LIST_ELEMENTS_MAX = 4  # DOC:bot-send-list
CAROUSEL_COLUMNS_MAX = 10  # DOC:bot-send-carousel
CAROUSEL_ACTIONS_MAX = 3
CAROUSEL_TITLE_MAX = 40
QUICK_REPLY_ITEMS_MAX = 13  # DOC:bot-quickreply
POSTBACK_DATA_MAX = 300  # DOC:bot-actionobject
DISPLAY_TEXT_MAX = 300
LABEL_MAX = 20
LINK_TEXT_MAX = 1000  # DOC:bot-send-link / button contentText i18n

CONTENT_TYPES = frozenset(
    {
        "text",
        "sticker",
        "image",
        "file",
        "link",
        "audio",
        "video",
        "location",
        "button_template",
        "list_template",
        "carousel",
        "image_carousel",
        "flex",
    }
)
ACTION_TYPES = frozenset({"postback", "message", "uri", "camera", "cameraRoll", "location", "copy"})
# Where each action type may appear (DOC:bot-actionobject): postback is NOT allowed in button or list
# templates; a button that must carry data uses a `message` action with a `postback` field instead.
_ALLOWED_ACTIONS = {
    "button_template": {"message", "uri", "copy"},
    "list_template": {"message", "uri", "copy"},
    "carousel": {"postback", "message", "uri", "copy"},
    "image_carousel": {"postback", "message", "uri", "copy"},
    "quickReply": ACTION_TYPES,
}


def validate_content(content: Any) -> None:
    """Validate a bot message ``content`` object; raise :class:`InvalidParameter` like the API."""
    if not isinstance(content, dict):
        raise InvalidParameter("content is required")
    ctype = content.get("type")
    if ctype not in CONTENT_TYPES:
        raise InvalidParameter(f"content.type is invalid: {ctype!r}")
    if ctype == "text":
        text = content.get("text")
        if not isinstance(text, str) or not text:
            raise InvalidParameter("content.text is required")
        _max_len("content.text", text, TEXT_MAX)
        for item in content.get("i18nTexts") or []:
            _max_len("content.i18nTexts.text", item.get("text", ""), TEXT_MAX)
    elif ctype in ("image", "video"):
        if not content.get("fileId") and not (
            content.get("previewImageUrl") and content.get("originalContentUrl")
        ):
            # the wording seen in production (lineworks-api.md §3.2)
            raise InvalidParameter("content.previewImageUrl/originalContentUrl is required")
    elif ctype == "button_template":
        if not content.get("contentText"):
            raise InvalidParameter("content.contentText is required")
        _max_len("content.contentText", content["contentText"], LINK_TEXT_MAX)
        actions = content.get("actions") or []
        if not actions:
            raise InvalidParameter("content.actions is required")
        _max_items("content.actions", actions, BUTTONS_MAX)
        _check_actions("content.actions", actions, "button_template")
    elif ctype == "list_template":
        elements = content.get("elements") or []
        if not elements:
            raise InvalidParameter("content.elements is required")
        _max_items("content.elements", elements, LIST_ELEMENTS_MAX)
        for i, element in enumerate(elements):
            if not element.get("title"):
                raise InvalidParameter(f"content.elements[{i}].title is required")
            if element.get("action"):
                _check_actions(f"content.elements[{i}].action", [element["action"]], "list_template")
        rows = content.get("actions") or []
        if len(rows) > 2 or any(len(row) > 2 for row in rows):
            raise InvalidParameter("content.actions must be at most 2 rows x 2 columns")
        for row in rows:
            _check_actions("content.actions", row, "list_template")
    elif ctype == "carousel":
        columns = content.get("columns") or []
        if not columns:
            raise InvalidParameter("content.columns is required")
        _max_items("content.columns", columns, CAROUSEL_COLUMNS_MAX)
        counts = {len(c.get("actions") or []) for c in columns}
        if len(counts) > 1:
            raise InvalidParameter("content.columns: the number of actions must be the same in every column")
        for i, column in enumerate(columns):
            if column.get("title"):
                _max_len(f"content.columns[{i}].title", column["title"], CAROUSEL_TITLE_MAX)
            _max_items(f"content.columns[{i}].actions", column.get("actions") or [], CAROUSEL_ACTIONS_MAX)
            _check_actions(f"content.columns[{i}].actions", column.get("actions") or [], "carousel")
            if column.get("defaultAction"):
                _check_actions(
                    f"content.columns[{i}].defaultAction",
                    [column["defaultAction"]],
                    "carousel",
                    label_required=False,
                )
    elif ctype == "image_carousel":
        columns = content.get("columns") or []
        _max_items("content.columns", columns, CAROUSEL_COLUMNS_MAX)
        for i, column in enumerate(columns):
            if column.get("action"):
                _check_actions(f"content.columns[{i}].action", [column["action"]], "image_carousel")
    quick = content.get("quickReply")
    if quick is not None:
        items = quick.get("items") or []
        _max_items("content.quickReply.items", items, QUICK_REPLY_ITEMS_MAX)
        for i, item in enumerate(items):
            if not item.get("action"):
                raise InvalidParameter(f"content.quickReply.items[{i}].action is required")
            _check_actions(f"content.quickReply.items[{i}].action", [item["action"]], "quickReply")


def _check_actions(where: str, actions: list[dict], container: str, label_required: bool = True) -> None:
    allowed = _ALLOWED_ACTIONS[container]
    for i, action in enumerate(actions):
        atype = action.get("type") if isinstance(action, dict) else None
        if atype not in ACTION_TYPES:
            raise InvalidParameter(f"{where}[{i}].type is invalid: {atype!r}")
        if atype not in allowed:
            raise InvalidParameter(f"{where}[{i}]: a {atype} action is not allowed in {container}")
        if atype == "postback":
            data = action.get("data")
            if not data:
                raise InvalidParameter(f"{where}[{i}].data is required")
            _max_len(f"{where}[{i}].data", data, POSTBACK_DATA_MAX)
        if atype == "message" and action.get("postback") is not None:
            _max_len(f"{where}[{i}].postback", action["postback"], POSTBACK_DATA_MAX)
        if action.get("displayText") is not None:
            _max_len(f"{where}[{i}].displayText", action["displayText"], DISPLAY_TEXT_MAX)
        if container == "quickReply" and atype == "postback" and not action.get("displayText"):
            raise InvalidParameter(f"{where}[{i}].displayText is required in a quick reply postback")
        label = action.get("label")
        if label is None and label_required and atype not in ("camera", "cameraRoll", "location"):
            raise InvalidParameter(f"{where}[{i}].label is required")
        if label is not None:
            _max_len(f"{where}[{i}].label", label, LABEL_MAX)


def _max_len(where: str, value: Any, limit: int) -> None:
    if not isinstance(value, str):
        raise InvalidParameter(f"{where} must be a string")
    if len(value) > limit:
        raise InvalidParameter(f"{where} must be at most {limit} characters (got {len(value)})")


def _max_items(where: str, items: Any, limit: int) -> None:
    if not isinstance(items, list):
        raise InvalidParameter(f"{where} must be an array")
    if len(items) > limit:
        raise InvalidParameter(f"{where} must have at most {limit} items (got {len(items)})")


class RateLimiter:
    """Fixed one-minute windows per (domain, API family), answering 429 with ``rateLimit-*`` headers."""

    def __init__(self) -> None:
        self._windows: dict[tuple[int, str], list[float]] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def hit(
        self,
        domain_id: int,
        family: str,
        limit: int,
        now: float | None = None,
        window: float = RATE_WINDOW_SECONDS,
    ) -> dict[str, str]:
        """Count one call; return the ``rateLimit-*`` headers, or raise 429 when over the limit."""
        now = time.monotonic() if now is None else now
        with self._lock:
            current = self._windows.get((domain_id, family))
            if current is None or now - current[0] >= window:
                current = [now, 0]
                self._windows[(domain_id, family)] = current
            reset = max(1, int(current[0] + window - now + 0.999))
            if current[1] >= limit:
                raise TooManyRequests(headers=rate_headers(limit, int(current[1]), reset))
            current[1] += 1
            return rate_headers(limit, int(current[1]), reset)


def rate_headers(limit: int, used: int, reset: int) -> dict[str, str]:
    """The documented response headers (DOC:rate-limits)."""
    return {
        "rateLimit-limit": str(limit),
        "rateLimit-used": str(used),
        "rateLimit-remaining": str(max(0, limit - used)),
        "rateLimit-reset": str(reset),
    }
