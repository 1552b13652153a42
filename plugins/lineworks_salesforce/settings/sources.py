"""Reading the two sources of settings: the YAML defaults file and the Variable's JSON text.

Both refuse duplicate keys (at any depth), a top level that is not a mapping, text over
:data:`MAX_SOURCE_CHARS`, and report a syntax error with its position only (the text may hold
secrets). The result is a plain ``dict``; the values are checked by
:mod:`lineworks_salesforce.settings.model`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from lineworks_salesforce.settings.errors import SettingsError, describe, file_source, safe_name

MAX_SOURCE_CHARS = 1 << 20
_MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKey(Exception):
    def __init__(self, key: object, line: int | None = None, column: int | None = None) -> None:
        super().__init__("duplicate key")
        self.key = key
        self.line = line
        self.column = column


class StrictSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that raises :class:`DuplicateKey` instead of keeping the last of two keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:  # unhashable: the base class reports it
                    continue
                if duplicate:
                    mark = key_node.start_mark
                    raise DuplicateKey(key, mark.line + 1, mark.column + 1)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _position(line: int | None, column: int | None) -> str:
    return f" at line {line}, column {column}" if line is not None and column is not None else ""


def _top_level(data: Any, source: str, kind: str) -> dict[str, Any]:
    if data is None and kind == "YAML mapping":
        return {}  # an empty file
    if not isinstance(data, dict):
        raise SettingsError(
            source, "", f"got {describe(data)} at the top level; expected a {kind} of settings"
        )
    return data


def _check_size(text: str, source: str) -> None:
    if len(text) > MAX_SOURCE_CHARS:
        raise SettingsError(source, "", f"has {len(text):,} characters; at most {MAX_SOURCE_CHARS:,}")


def parse_yaml(text: str, source: str) -> dict[str, Any]:
    """The mapping of a YAML document, or :class:`SettingsError` naming ``source``."""
    _check_size(text, source)
    failure = None
    try:
        data = yaml.load(text, Loader=StrictSafeLoader)  # noqa: S506 - a SafeLoader subclass
    except DuplicateKey as exc:
        failure = SettingsError(
            source,
            safe_name(exc.key, _known_keys()),
            f"duplicate key{_position(exc.line, exc.column)}; each key once",
        )
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _position(mark.line + 1, mark.column + 1) if mark is not None else ""
        failure = SettingsError(source, "", f"not valid YAML ({type(exc).__name__}{where})")
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        failure = SettingsError(source, "", f"not valid YAML ({type(exc).__name__})")
    if failure is not None:
        raise failure  # outside the except block: no chained exception carries the text
    return _top_level(data, source, "YAML mapping")


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise DuplicateKey(key)
        data[key] = value
    return data


def parse_json(text: str, source: str) -> dict[str, Any]:
    """The object of a JSON text, or :class:`SettingsError` naming ``source``.

    ``NaN``/``Infinity`` are parsed and left to the field checks, which name the field.
    """
    _check_size(text, source)
    failure = None
    try:
        data = json.loads(text, object_pairs_hook=_object_pairs)
    except DuplicateKey as exc:
        failure = SettingsError(source, safe_name(exc.key, _known_keys()), "duplicate key; each key once")
    except json.JSONDecodeError as exc:
        # the reason without what follows ": " (the pure-Python scanner's "Invalid \\escape: 'x'" quotes
        # the text)
        reason = re.sub(r"\s+at$", "", re.split(r":\s", exc.msg, maxsplit=1)[0])
        failure = SettingsError(source, "", f"not valid JSON ({reason}{_position(exc.lineno, exc.colno)})")
    except (ValueError, TypeError, RecursionError) as exc:  # a number over 4,300 digits, nesting too deep
        failure = SettingsError(source, "", f"not valid JSON ({type(exc).__name__})")
    if failure is not None:
        raise failure
    return _top_level(data, source, "JSON object")


def read_defaults(path: Path) -> dict[str, Any]:
    """The settings file's mapping; ``{}`` when there is no such file (the dataclass defaults apply)."""
    source = file_source(path)
    failure = None
    try:
        if not path.exists():
            return {}
        if path.stat().st_size > MAX_SOURCE_CHARS * 4:
            raise SettingsError(source, "", f"is over {MAX_SOURCE_CHARS * 4:,} bytes")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        failure = SettingsError(source, "", f"not UTF-8 text (byte {exc.start:,})")
    except OSError as exc:
        failure = SettingsError(source, "", f"cannot be read ({type(exc).__name__})")
    if failure is not None:
        raise failure
    return parse_yaml(text, source)


def _known_keys() -> tuple[str, ...]:
    """The names a duplicate key may be shown as (settings and task ids): anything else is described."""
    from lineworks_salesforce.settings.checks import TIMEOUT_KEYS
    from lineworks_salesforce.settings.model import SETTING_NAMES

    return (*SETTING_NAMES, *TIMEOUT_KEYS)
