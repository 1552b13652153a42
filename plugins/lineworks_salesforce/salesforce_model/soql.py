"""Bind-safe SOQL building: user-typed values become literals, never query text.

SOQL has no server-side bind variables in the REST API, so every value is rendered through
:func:`literal`, which escapes what SOQL string literals treat specially (``\\``, ``'``, ``"`` and
control characters), and :class:`Like` additionally escapes the ``%`` and ``_`` wildcards so a
user's text matches itself. Identifiers (object and field names) are never taken from user input
unchecked: :func:`identifier` accepts only API-name syntax.

.. code-block:: python

    soql("SELECT Id, Name FROM Lead WHERE Email = {email} AND LastName LIKE {name} LIMIT {n}",
         email=user_email, name=Like(typed_name, mode="prefix"), n=7)
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Literal
from urllib.parse import quote

# The documented limit of a REST call's URI (Salesforce: "URI length" in the REST API limits), and room
# for the path in front of a query (``/services/data/v66.0/queryAll/?q=``). A query sent in a GET url -
# or, UNCONFIRMED whether the limit applies there, a Composite subrequest's url - must fit in it.
REST_URI_MAX_BYTES = 16_384
QUERY_PATH_MAX_BYTES = 64
QUERY_URL_MAX_BYTES = REST_URI_MAX_BYTES - QUERY_PATH_MAX_BYTES

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")


def escape(text: str) -> str:
    """Escape ``text`` for use inside a single-quoted SOQL string literal."""
    return "".join(_ESCAPES.get(c, c) for c in text)


@dataclass(frozen=True)
class Like:
    """A LIKE pattern from user text: its ``%``/``_`` are literal; wildcards only where ``mode`` says."""

    text: str
    mode: Literal["exact", "prefix", "suffix", "contains"] = "contains"

    def render(self) -> str:
        body = escape(self.text).replace("%", "\\%").replace("_", "\\_")
        before = "%" if self.mode in ("suffix", "contains") else ""
        after = "%" if self.mode in ("prefix", "contains") else ""
        return f"'{before}{body}{after}'"


@dataclass(frozen=True)
class Identifier:
    """An object or field name checked against API-name syntax (``Name``, ``Folder__r.Name``)."""

    name: str

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"not a Salesforce API name: {self.name!r}")


def identifier(name: str) -> Identifier:
    return Identifier(name)


def literal(value: Any) -> str:
    """Render a Python value as a SOQL literal."""
    if isinstance(value, Like):
        return value.render()
    if isinstance(value, Identifier):
        return value.name
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("SOQL has no literal for NaN or infinity")
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetime literals need a timezone")
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return f"'{escape(value)}'"
    if isinstance(value, Iterable):
        items = [literal(v) for v in value]
        if not items:
            raise ValueError("an IN list needs at least one value")
        return "(" + ", ".join(items) + ")"
    raise TypeError(f"no SOQL literal for {type(value).__name__}")


def soql(template: str, **params: Any) -> str:
    """Fill ``{name}`` placeholders of ``template`` with literals of ``params`` (no format specs)."""
    out = []
    for text, name, spec, conversion in string.Formatter().parse(template):
        out.append(text)
        if name is None:
            continue
        if spec or conversion or name not in params:
            raise ValueError(f"bad placeholder {{{name}}} in SOQL template")
        out.append(literal(params[name]))
    return "".join(out)


def query_path(soql_text: str, *, include_deleted: bool = False) -> str:
    """The REST path of a query below ``/services/data/vXX.X/``: ``query/?q=<URL-encoded SOQL>``
    (``queryAll`` with ``include_deleted``). :func:`soql_in_chunks` measures the same encoding."""
    return f"{'queryAll' if include_deleted else 'query'}/?q={_url_encoded(soql_text)}"


def _url_encoded(text: str) -> str:
    return quote(text, safe="")


def soql_in_chunks(
    template: str,
    name: str,
    values: Sequence[Any],
    /,
    *,
    max_values: int,
    max_url_bytes: int = QUERY_URL_MAX_BYTES,
    **params: Any,
) -> Iterator[str]:
    """``soql(template, name=chunk, **params)`` for consecutive chunks of ``values``, in order.

    A chunk holds at most ``max_values`` values and as many as keep the query's URL-encoded text (what
    a query url carries after ``?q=``) within ``max_url_bytes``, so long ids never push a query past the
    URI limit however many fit by count.

    :raises ValueError: one value alone makes the query too long.
    """
    if max_values < 1:
        raise ValueError("max_values must be at least 1")
    if template.count(f"{{{name}}}") != 1:
        raise ValueError(
            f"the template must hold {{{name}}} exactly once (the length is counted for one list)"
        )
    separator = len(_url_encoded(", "))
    chunk: list[Any] = []
    used = 0
    for value in values:
        cost = len(_url_encoded(literal(value)))
        if chunk and (len(chunk) == max_values or used + separator + cost > max_url_bytes):
            yield soql(template, **params, **{name: chunk})
            chunk = []
        if not chunk:
            # the query's text around the list, measured once per chunk with its first value
            used = len(_url_encoded(soql(template, **params, **{name: [value]})))
            if used > max_url_bytes:
                raise ValueError(
                    f"a query with the single value {str(value)[:40]!r} is {used:,} bytes URL-encoded, "
                    f"more than {max_url_bytes:,}"
                )
        else:
            used += separator + cost
        chunk.append(value)
    if chunk:
        yield soql(template, **params, **{name: chunk})
