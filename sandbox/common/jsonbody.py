"""The one JSON request-body reader of the sandboxes: size and nesting caps, strict JSON, clean errors.

Every request body a sandbox parses as JSON goes through :func:`parse_json` (or :func:`read_json` for a
Starlette request), so that no body can make a handler fail with a 500:

* larger than ``max_bytes`` → refused (the body is still read to its end, so the answer arrives);
* nested deeper than ``max_depth`` (``[[[[…]]]]``, ``{"a": {"a": …}}``) → refused. Python's parser raises
  ``RecursionError`` (not a ``ValueError``) past ~1,000 levels; the cap also keeps every later recursive
  step (``json.dumps``, ``copy.deepcopy``) far from the interpreter's limit;
* not JSON, not UTF-8, ``NaN``/``Infinity`` (not JSON, though Python accepts them), a number that overflows
  a double (``1e400``) or an integer of more than ``MAX_INT_DIGITS`` digits → refused;
* an unpaired UTF-16 surrogate (``"\\ud800"``), which no UTF-8 encoder (SQLite, the answer) accepts → refused;
* ``expect=dict`` / ``expect=list`` refuses any other top-level type.

Failures are raised as ``error(message)``: each sandbox passes its own wire error class, so the answer has
that sandbox's error shape. Messages never contain the body.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from fastapi import Request

MAX_DEPTH = 64  # sandbox limit (UNCONFIRMED for both services); real payloads nest fewer than 10 levels
MAX_INT_DIGITS = 100  # far beyond any 64-bit id or count
DEFAULT_MAX_BYTES = 64 * 1024 * 1024

ErrorFactory = Callable[[str], Exception]

_NAMES = {dict: "a JSON object", list: "a JSON array"}
# Raw bytes that can decode to a lone surrogate: a \uD800-\uDFFF escape, or UTF-8-encoded surrogates.
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Refused(ValueError):
    pass


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused("a number in the JSON body is out of range")
    return value


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer in the JSON body has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _parse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not valid JSON")


def parse_json(
    raw: bytes,
    error: ErrorFactory,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    expect: type | None = None,
    what: str = "the request body",
) -> Any:
    """Parse ``raw`` as JSON within the caps, or raise ``error(message)``.

    :param error: builds the exception to raise from a message (the sandbox's own error class).
    :param expect: ``dict`` or ``list`` to require that top-level type.
    :param what: how messages name the body ("the request body", "the batch").
    """
    if len(raw) > max_bytes:
        raise error(f"{what} is larger than the sandbox accepts ({max_bytes:,} bytes)")
    try:
        value = json.loads(
            raw, parse_float=_parse_float, parse_int=_parse_int, parse_constant=_parse_constant
        )
    except _Refused as exc:
        raise error(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise error(f"{what} is nested more than {max_depth} levels deep") from None
    except UnicodeDecodeError:
        raise error(f"{what} is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise error(f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except ValueError:  # e.g. an integer of more than 4,300 digits (int max_str_digits)
        raise error(f"{what} is not valid JSON") from None
    _check_tree(value, max_depth, bool(_MAYBE_SURROGATE.search(raw)), error, what)
    if expect is not None and not isinstance(value, expect):
        raise error(f"{what} must be {_NAMES.get(expect, expect.__name__)}")
    return value


async def read_body(
    request: Request, error: ErrorFactory, *, max_bytes: int, what: str = "the request body"
) -> bytes:
    """The raw body, refused beyond ``max_bytes`` (read to its end all the same, keeping at most the cap)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= max_bytes:
            chunks.append(chunk)
    if size > max_bytes:
        raise error(f"{what} is larger than the sandbox accepts ({max_bytes:,} bytes)")
    return b"".join(chunks)


async def read_json(
    request: Request,
    error: ErrorFactory,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    expect: type | None = None,
    what: str = "the request body",
) -> Any:
    """:func:`parse_json` of a Starlette request's body."""
    raw = await read_body(request, error, max_bytes=max_bytes, what=what)
    return parse_json(raw, error, max_bytes=max_bytes, max_depth=max_depth, expect=expect, what=what)


def _check_tree(value: Any, max_depth: int, surrogates: bool, error: ErrorFactory, what: str) -> None:
    """Depth (iteratively: no recursion) and, when the raw body could hold one, lone surrogates."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > max_depth:
                raise error(f"{what} is nested more than {max_depth} levels deep")
            for key, item in node.items():
                if surrogates and _SURROGATE.search(key):
                    raise error(f"{what} contains an unpaired UTF-16 surrogate")
                stack.append((item, depth + 1))
        elif isinstance(node, list):
            if depth > max_depth:
                raise error(f"{what} is nested more than {max_depth} levels deep")
            stack.extend((item, depth + 1) for item in node)
        elif surrogates and isinstance(node, str) and _SURROGATE.search(node):
            raise error(f"{what} contains an unpaired UTF-16 surrogate")
