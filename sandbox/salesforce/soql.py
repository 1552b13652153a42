"""SOQL for the Salesforce sandbox: parse the supported subset and evaluate it over a record source.

``parse`` is pure syntax: a Lark LALR grammar (contextual lexer, so keywords only act as keywords where
the grammar expects them) turns the text into a frozen :class:`Query`. ``execute`` resolves names through
a :class:`RecordSource` (``INVALID_TYPE`` / ``INVALID_FIELD``), checks every literal against the field's
describe type, compiles the ``WHERE`` tree into predicates and then filters, sorts and pages the records.

The subset: ``SELECT`` fields and one-level relationship fields, or ``COUNT()``, ``FROM`` one object;
``WHERE`` with ``= != <> < <= > >=``, ``LIKE``, ``IN``/``NOT IN``, ``AND``/``OR``/``NOT`` (mixing them
needs parentheses, as in Salesforce), string/number/boolean/null/date/dateTime literals and relative date
literals; ``ORDER BY`` with ``ASC|DESC`` and ``NULLS FIRST|LAST``; ``LIMIT``; ``OFFSET`` (at most 2000).
Anything else is ``MALFORMED_QUERY``: an unsupported query fails loudly instead of giving a wrong answer.

Semantics follow the SOQL reference (developer.salesforce.com, soql_sosl guide): text ``=``/``LIKE`` are
case-insensitive, ``!=`` and ``NOT IN`` also match null values, a null boolean counts as false
(``= null`` is ``= false``), a relationship path through an empty reference is null, ``LAST_N_DAYS:n``
includes today, date literals are day ranges (computed in UTC here), ``ASC`` sorts nulls first and
``DESC`` nulls last unless ``NULLS FIRST|LAST`` says otherwise.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

MAX_OFFSET = 2000  # "Maximum SOQL offset allowed is 2000" (NUMBER_OUTSIDE_VALID_RANGE)
MAX_QUERY_LENGTH = 100_000  # "SOQL statements cannot be longer than 100,000 characters"
# Sandbox bounds for numbers in a query (UNCONFIRMED: Salesforce documents none for the REST API). A bigger
# number is MALFORMED_QUERY, never an overflow: LIMIT is a 32-bit integer (Salesforce runs on Java);
# LAST_N_DAYS:n and the other :n literals take n up to 100,000 days (~273 years, so every computed day is
# a real date); a numeric literal has at most 308 digits before the point (the range of a double).
MAX_LIMIT = 2**31 - 1
MAX_DATE_LITERAL_N = 100_000
MAX_NUMBER_DIGITS = 308

MALFORMED_QUERY = "MALFORMED_QUERY"
INVALID_FIELD = "INVALID_FIELD"
INVALID_TYPE = "INVALID_TYPE"
INVALID_QUERY_FILTER_OPERATOR = "INVALID_QUERY_FILTER_OPERATOR"
NUMBER_OUTSIDE_VALID_RANGE = "NUMBER_OUTSIDE_VALID_RANGE"


class SoqlError(Exception):
    """A query Salesforce would reject; ``error_code`` is the ``errorCode`` to answer with.

    ``MALFORMED_QUERY`` (syntax, or syntax outside the supported subset), ``INVALID_FIELD`` (unknown field
    or relationship, literal of the wrong type), ``INVALID_TYPE`` (unknown object),
    ``INVALID_QUERY_FILTER_OPERATOR`` (operator the field type does not allow, e.g. ``LIKE`` on an Id) or
    ``NUMBER_OUTSIDE_VALID_RANGE`` (``OFFSET`` above 2000).
    """

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    def __repr__(self) -> str:
        return f"SoqlError({self.error_code!r}, {self.message!r})"


# --------------------------------------------------------------------------------------------------
# AST
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StringLiteral:
    value: str  # decoded; a LIKE-only escape (\% or \_) is the bare character here
    like_pattern: str  # regular expression equivalent of the LIKE pattern (full match)
    like_escapes: bool  # the literal used \% or \_, which Salesforce allows in LIKE only


@dataclass(frozen=True)
class NumberLiteral:
    value: int | float
    text: str


@dataclass(frozen=True)
class BooleanLiteral:
    value: bool


@dataclass(frozen=True)
class NullLiteral:
    pass


@dataclass(frozen=True)
class DateLiteral:
    value: str  # YYYY-MM-DD


@dataclass(frozen=True)
class DateTimeLiteral:
    key: str  # the instant in UTC as YYYY-MM-DDTHH:MM:SS.mmm (sorts chronologically)
    text: str


@dataclass(frozen=True)
class RelativeDateLiteral:
    name: str  # upper case, e.g. TODAY, LAST_N_DAYS
    n: int | None = None


Literal = (
    StringLiteral
    | NumberLiteral
    | BooleanLiteral
    | NullLiteral
    | DateLiteral
    | DateTimeLiteral
    | RelativeDateLiteral
)


@dataclass(frozen=True)
class Comparison:
    path: str
    op: str  # = != < <= > >=  ("<>" is normalized to "!=")
    value: Literal


@dataclass(frozen=True)
class Like:
    path: str
    value: Literal


@dataclass(frozen=True)
class InList:
    path: str
    values: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class And:
    items: tuple[object, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[object, ...]


@dataclass(frozen=True)
class Not:
    item: object


@dataclass(frozen=True)
class Query:
    sobject: str  # as written
    fields: tuple[str, ...]  # as written, e.g. ("Id", "Owner.Name"); empty when count_only
    count_only: bool  # SELECT COUNT() FROM ...
    where: object | None  # Comparison | Like | InList | And | Or | Not
    order_by: tuple[tuple[str, bool, bool | None], ...]  # (path, ascending, nulls_first or None = default)
    limit: int | None
    offset: int | None


class RecordSource(Protocol):
    def object_exists(self, sobject: str) -> str | None:
        """Canonical object name, or None for an unknown object."""

    def field(self, sobject: str, name: str) -> tuple[str, str] | None:
        """(canonical field name, describe type), or None for an unknown field."""

    def relationship(self, sobject: str, name: str) -> tuple[str, tuple[str, ...]] | None:
        """Relationship name ("Owner", "Folder__r") -> (reference field, possible target objects)."""

    def records(self, sobject: str) -> Iterable[dict]:
        """All records of the object (deleted ones carry "IsDeleted": True), keyed by canonical names."""

    def get(self, record_id: str) -> tuple[str, dict] | None:
        """(object name, record) for an Id of any object."""

    # Optional: ``case_sensitive(sobject, field) -> bool``. When the source has it, text fields it marks
    # (e.g. case-sensitive unique external Ids) compare case-sensitively, as in Salesforce.


# --------------------------------------------------------------------------------------------------
# Grammar and parse
# --------------------------------------------------------------------------------------------------

_GRAMMAR = r"""
query: _SELECT select_list _FROM NAME where_clause? order_clause? limit_clause? offset_clause?

select_list: _COUNT "(" ")"                -> count_select
           | path ("," path)*              -> field_select

path: NAME ("." NAME)*

where_clause: _WHERE condition

// Salesforce needs parentheses whenever AND, OR and NOT are mixed: one operator kind per level.
?condition: factor
          | factor (_AND factor)+          -> and_
          | factor (_OR factor)+           -> or_
          | _NOT factor                    -> not_

?factor: "(" condition ")"
       | comparison

comparison: path OPERATOR value            -> compare
          | path _LIKE value               -> like
          | path _IN value_list            -> in_
          | path _NOT _IN value_list       -> not_in

value_list: "(" value ("," value)* ")"

value: STRING                              -> string
     | NUMBER                              -> number
     | DATETIME                            -> datetime
     | DATE                                -> date
     | RELATIVE_DATE                       -> relative_date
     | _TRUE                               -> true
     | _FALSE                              -> false
     | _NULL                               -> null

order_clause: _ORDER _BY order_item ("," order_item)*
order_item: path DIRECTION? (_NULLS NULLS_POSITION)?

limit_clause: _LIMIT INT
offset_clause: _OFFSET INT

_SELECT: "select"i
_COUNT: "count"i
_FROM: "from"i
_WHERE: "where"i
_AND: "and"i
_OR: "or"i
_NOT: "not"i
_LIKE: "like"i
_IN: "in"i
_TRUE: "true"i
_FALSE: "false"i
_NULL: "null"i
_ORDER: "order"i
_BY: "by"i
_NULLS: "nulls"i
_LIMIT: "limit"i
_OFFSET: "offset"i
DIRECTION: /(asc|desc)(?![a-z0-9_])/i
NULLS_POSITION: /(first|last)(?![a-z0-9_])/i

NAME: /[a-z][a-z0-9_]*/i
OPERATOR: /!=|<>|<=|>=|=|<|>/
STRING: /'(?:[^'\\]|\\.)*'/s
NUMBER: /[+-]?[0-9]+(\.[0-9]+)?(?![a-z0-9_.])/i
INT: /[0-9]+(?![a-z0-9_.])/i
DATETIME.3: /@DATETIME@(?![a-z0-9_])/i
DATE.2: /[0-9]{4}-[0-9]{2}-[0-9]{2}(?![a-z0-9_:])/i
RELATIVE_DATE: /(@RELATIVE_DATE@)(?![a-z0-9_])/i

%ignore /\s+/
"""

# Long terminal patterns, spliced in to keep the grammar readable.
_DATETIME_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_RELATIVE_DATE_PATTERN = "|".join(
    (
        "yesterday|today|tomorrow|last_90_days|next_90_days",
        "(this|last|next)_(month|year)",
        "(last_n_days|next_n_days|n_days_ago):[0-9]+",
    )
)
_PARSER = Lark(
    _GRAMMAR.replace("@DATETIME@", _DATETIME_PATTERN).replace("@RELATIVE_DATE@", _RELATIVE_DATE_PATTERN),
    start="query",
    parser="lalr",
    lexer="contextual",
)

_ESCAPES = {
    "n": "\n",
    "N": "\n",
    "r": "\r",
    "R": "\r",
    "t": "\t",
    "T": "\t",
    "b": "\b",
    "B": "\b",
    "f": "\f",
    "F": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")


def _malformed(message: str) -> SoqlError:
    return SoqlError(MALFORMED_QUERY, message)


def _decode_string(token: str) -> StringLiteral:
    """Decode a quoted SOQL string literal (Salesforce's escape table, "Quoted String Escape Sequences")."""
    body = token[1:-1]
    chars: list[str] = []
    pattern: list[str] = []
    like_escapes = False
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            chars.append(ch)
            if ch != "%" or not pattern or pattern[-1] != ".*":  # '%%%%a' is '%a': no backtracking blow-up
                pattern.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
            i += 1
            continue
        nxt = body[i + 1]  # the lexer guarantees a character after a backslash
        if nxt in _ESCAPES:
            decoded = _ESCAPES[nxt]
            i += 2
        elif nxt in "%_":
            decoded = nxt
            like_escapes = True
            i += 2
        elif nxt == "u" and _HEX4.fullmatch(body, i + 2, i + 6):
            decoded = chr(int(body[i + 2 : i + 6], 16))
            i += 6
        else:
            raise _malformed(f"Invalid string literal '{body}'. Illegal escape sequence '\\{nxt}'")
        chars.append(decoded)
        pattern.append(re.escape(decoded))
    return StringLiteral("".join(chars), "".join(pattern), like_escapes)


def _parse_date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise _malformed(f"invalid date: {text}") from None


def _parse_datetime(text: str) -> DateTimeLiteral:
    normalized = text[:-1] + "+00:00" if text[-1] in "Zz" else text
    try:
        moment = datetime.fromisoformat(normalized.replace("t", "T"))
        key = _format_instant(moment)  # OverflowError: 0001-01-01T00:00:00+01:00 is before year 1 in UTC
    except (ValueError, OverflowError):
        raise _malformed(f"invalid dateTime: {text}") from None
    return DateTimeLiteral(key, text)


def _format_instant(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _path(token_list: list[Token]) -> str:
    if len(token_list) > 2:
        raise _malformed(
            f"'{'.'.join(token_list)}': only one level of relationship is supported by the sandbox"
        )
    return ".".join(str(t) for t in token_list)


class _ToAst(Transformer):
    """Parse tree -> :class:`Query`. Semantic checks that need no schema happen here."""

    def query(self, children: list[Any]) -> Query:
        select, sobject, *clauses = children
        parts: dict[str, Any] = dict(clauses)
        count_only = select is None
        order_by = parts.get("order", ())
        offset = parts.get("offset")
        if count_only and order_by:
            raise _malformed("ORDER BY is not supported with COUNT()")
        if count_only and offset is not None:
            raise _malformed("OFFSET is not supported with COUNT()")
        return Query(
            sobject=str(sobject),
            fields=() if count_only else tuple(select),
            count_only=count_only,
            where=parts.get("where"),
            order_by=tuple(order_by),
            limit=parts.get("limit"),
            offset=offset,
        )

    def count_select(self, _children: list[Any]) -> None:
        return None

    def field_select(self, children: list[str]) -> list[str]:
        return children

    def path(self, children: list[Token]) -> str:
        return _path(children)

    def where_clause(self, children: list[Any]) -> tuple[str, object]:
        return ("where", children[0])

    def and_(self, children: list[Any]) -> And:
        return And(tuple(children))

    def or_(self, children: list[Any]) -> Or:
        return Or(tuple(children))

    def not_(self, children: list[Any]) -> Not:
        return Not(children[0])

    def compare(self, children: list[Any]) -> Comparison:
        path, op, value = children
        op = "!=" if op == "<>" else str(op)
        return Comparison(path, op, _plain(value))

    def like(self, children: list[Any]) -> Like:
        path, value = children
        return Like(path, value)

    def in_(self, children: list[Any]) -> InList:
        path, values = children
        return InList(path, tuple(_plain(v) for v in values), negated=False)

    def not_in(self, children: list[Any]) -> InList:
        path, values = children
        return InList(path, tuple(_plain(v) for v in values), negated=True)

    def value_list(self, children: list[Any]) -> list[Any]:
        return children

    def string(self, children: list[Token]) -> StringLiteral:
        return _decode_string(str(children[0]))

    def number(self, children: list[Token]) -> NumberLiteral:
        text = str(children[0])
        if len(text.lstrip("+-").split(".")[0]) > MAX_NUMBER_DIGITS:
            raise _malformed(
                f"number out of range: a numeric literal has more than {MAX_NUMBER_DIGITS} digits"
            )
        value: int | float = float(text) if "." in text else int(text)
        return NumberLiteral(value, text)

    def datetime(self, children: list[Token]) -> DateTimeLiteral:
        return _parse_datetime(str(children[0]))

    def date(self, children: list[Token]) -> DateLiteral:
        return DateLiteral(_parse_date(str(children[0])))

    def relative_date(self, children: list[Token]) -> RelativeDateLiteral:
        name, _, n = str(children[0]).upper().partition(":")
        if n and (len(n) > 9 or int(n) > MAX_DATE_LITERAL_N):
            raise _malformed(f"{name}:n takes n from 0 to {MAX_DATE_LITERAL_N:,} (sandbox limit)")
        return RelativeDateLiteral(name, int(n) if n else None)

    def true(self, _children: list[Any]) -> BooleanLiteral:
        return BooleanLiteral(True)

    def false(self, _children: list[Any]) -> BooleanLiteral:
        return BooleanLiteral(False)

    def null(self, _children: list[Any]) -> NullLiteral:
        return NullLiteral()

    def order_clause(self, children: list[Any]) -> tuple[str, list[tuple[str, bool, bool | None]]]:
        return ("order", children)

    def order_item(self, children: list[Any]) -> tuple[str, bool, bool | None]:
        path, *rest = children
        ascending = True
        nulls_first: bool | None = None
        for token in rest:
            if token.type == "DIRECTION":
                ascending = token.lower() == "asc"
            else:
                nulls_first = token.lower() == "first"
        return (path, ascending, nulls_first)

    def limit_clause(self, children: list[Token]) -> tuple[str, int]:
        text = str(children[0])
        if len(text) > 10 or int(text) > MAX_LIMIT:
            raise _malformed(f"LIMIT must be an integer from 0 to {MAX_LIMIT:,}")
        return ("limit", int(text))

    def offset_clause(self, children: list[Token]) -> tuple[str, int]:
        text = str(children[0])
        offset = int(text) if len(text) <= 10 else MAX_OFFSET + 1
        if offset > MAX_OFFSET:
            raise SoqlError(NUMBER_OUTSIDE_VALID_RANGE, f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        return ("offset", offset)


def _plain(value: Literal) -> Literal:
    """\\% and \\_ are LIKE-only escapes; Salesforce rejects a backslash in any other context."""
    if isinstance(value, StringLiteral) and value.like_escapes:
        raise _malformed("the escape sequences \\% and \\_ are only allowed in a LIKE expression")
    return value


def _syntax_message(soql: str, exc: UnexpectedInput) -> str:
    """Salesforce's shape: the line, a caret, ``ERROR at Row:r:Column:c`` and the offending token."""
    lines = soql.splitlines() or [""]
    line, column = getattr(exc, "line", -1), getattr(exc, "column", -1)
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        found = "<EOF>"
    elif isinstance(exc, UnexpectedToken):
        found = str(exc.token)
    elif isinstance(exc, UnexpectedCharacters):
        found = soql[exc.pos_in_stream]
    else:
        found = "<EOF>"
    at_end = isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    if at_end or not isinstance(line, int) or not 1 <= line <= len(lines):
        line, column = len(lines), len(lines[-1]) + 1
    pointer = " " * max(column - 1, 0) + "^"
    return f"\n{lines[line - 1]}\n{pointer}\nERROR at Row:{line}:Column:{column}\nunexpected token: '{found}'"


def parse(soql: str) -> Query:
    """Parse ``soql`` into a :class:`Query`.

    :raises SoqlError: ``MALFORMED_QUERY`` for bad or unsupported syntax, ``NUMBER_OUTSIDE_VALID_RANGE``
        for ``OFFSET`` above 2000.
    """
    if not isinstance(soql, str):
        raise TypeError("soql must be a str")
    if len(soql) > MAX_QUERY_LENGTH:
        raise _malformed(f"SOQL statements cannot be longer than {MAX_QUERY_LENGTH:,} characters")
    try:
        tree = _PARSER.parse(soql)
        return _ToAst().transform(tree)
    except UnexpectedInput as exc:
        raise _malformed(_syntax_message(soql, exc)) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, SoqlError):
            raise exc.orig_exc from None
        if isinstance(exc.orig_exc, RecursionError):
            raise _malformed("query is nested too deeply") from None
        if isinstance(exc.orig_exc, (ValueError, OverflowError)):  # a literal no check above caught
            raise _malformed("a literal in the query is out of range") from None
        raise
    except RecursionError:
        raise _malformed("query is nested too deeply") from None


# --------------------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------------------

_TEXT_TYPES = frozenset(
    {"string", "textarea", "picklist", "email", "phone", "url", "combobox", "encryptedstring"}
)
_ID_TYPES = frozenset({"id", "reference"})
_NUMBER_TYPES = {
    "int": "integer",
    "long": "long",
    "double": "double",
    "currency": "double",
    "percent": "double",
}
_CATEGORY_BY_TYPE: dict[str, str] = {t: "text" for t in _TEXT_TYPES}
_CATEGORY_BY_TYPE.update({t: "id" for t in _ID_TYPES})
_CATEGORY_BY_TYPE.update({t: "number" for t in _NUMBER_TYPES})
_CATEGORY_BY_TYPE.update({"multipicklist": "multi", "boolean": "boolean"})
_CATEGORY_BY_TYPE.update({"date": "date", "datetime": "datetime"})

# What a literal has to be for each field category (NullLiteral is fine everywhere).
_ACCEPTS: dict[str, tuple[type, ...]] = {
    "text": (StringLiteral,),
    "cased": (StringLiteral,),
    "id": (StringLiteral,),
    "multi": (StringLiteral,),
    "number": (NumberLiteral,),
    "boolean": (BooleanLiteral,),
    "date": (DateLiteral, RelativeDateLiteral),
    "datetime": (DateTimeLiteral, RelativeDateLiteral),
}
_RANGE_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_MISSING = object()


def _text_key(value: Any) -> str | None:
    if value is None:
        return None
    return (value if isinstance(value, str) else str(value)).casefold()


def _id_key(value: Any) -> str | None:
    """Ids compare case-sensitively; an 18-character Id equals its 15-character form."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text[:15] if len(text) == 18 else text


def _raw_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _multi_key(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    parts = (p.strip().casefold() for p in str(value).split(";"))
    return frozenset(p for p in parts if p)


def _number_key(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _boolean_key(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)  # a null boolean counts as false in SOQL


def _date_key(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    return str(value)[:10]


def _datetime_key(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return _format_instant(value)
    text = str(value)
    # Fast path for the stored form, YYYY-MM-DDTHH:MM:SS.000+0000 (or ...Z).
    if len(text) == 28 and text[19] == "." and text.endswith("+0000"):
        return text[:23]
    if len(text) == 24 and text[19] == "." and text[23] == "Z":
        return text[:23]
    try:
        return _format_instant(datetime.fromisoformat(text))
    except ValueError:
        return None


_EQUALITY_KEYS: dict[str, Callable[[Any], Any]] = {
    "text": _text_key,
    "cased": _raw_text,
    "id": _id_key,
    "multi": _multi_key,
    "number": _number_key,
    "boolean": _boolean_key,
    "date": _date_key,
    "datetime": _datetime_key,
}
_ORDER_KEYS: dict[str, Callable[[Any], Any]] = {
    "text": _text_key,
    "cased": _raw_text,
    "id": _raw_text,
    "multi": _text_key,
    "number": _number_key,
    "boolean": _boolean_key,
    "date": _date_key,
    "datetime": _datetime_key,
}


def _literal_key(category: str, literal: Literal) -> Any:
    if isinstance(literal, StringLiteral):
        return _EQUALITY_KEYS[category](literal.value)
    if isinstance(literal, NumberLiteral):
        return literal.value
    if isinstance(literal, BooleanLiteral):
        return literal.value
    if isinstance(literal, DateLiteral):
        return literal.value
    if isinstance(literal, DateTimeLiteral):
        return literal.key
    raise AssertionError(literal)  # pragma: no cover - relative dates and null are handled by callers


def _relative_range(literal: RelativeDateLiteral, today: date) -> tuple[date, date]:
    """[start, end) of a relative date literal, in days (SOQL "Date Formats and Date Literals")."""
    day = timedelta(days=1)
    n = literal.n or 0
    month_start = today.replace(day=1)

    def add_months(start: date, months: int) -> date:
        index = start.year * 12 + start.month - 1 + months
        return date(index // 12, index % 12 + 1, 1)

    ranges = {
        "TODAY": (today, today + day),
        "YESTERDAY": (today - day, today),
        "TOMORROW": (today + day, today + 2 * day),
        "LAST_90_DAYS": (today - 90 * day, today + day),
        "NEXT_90_DAYS": (today + day, today + 91 * day),
        "LAST_N_DAYS": (today - n * day, today + day),
        "NEXT_N_DAYS": (today + day, today + (n + 1) * day),
        "N_DAYS_AGO": (today - n * day, today - (n - 1) * day),
        "THIS_MONTH": (month_start, add_months(month_start, 1)),
        "LAST_MONTH": (add_months(month_start, -1), month_start),
        "NEXT_MONTH": (add_months(month_start, 1), add_months(month_start, 2)),
        "THIS_YEAR": (date(today.year, 1, 1), date(today.year + 1, 1, 1)),
        "LAST_YEAR": (date(today.year - 1, 1, 1), date(today.year, 1, 1)),
        "NEXT_YEAR": (date(today.year + 1, 1, 1), date(today.year + 2, 1, 1)),
    }
    return ranges[literal.name]


@dataclass
class _Column:
    """A resolved field path: how to read it from a record, its describe type and its output keys."""

    path: str
    name: str  # canonical field name (on the related object for relationship paths)
    type: str
    getter: Callable[[dict], Any]
    relationship: str | None = None  # canonical relationship name for nested output
    reference_field: str | None = None
    value_in: Callable[[tuple[str, dict]], Any] | None = None  # field value from a related (object, record)
    case_sensitive: bool = False

    @property
    def category(self) -> str | None:
        category = _CATEGORY_BY_TYPE.get(self.type.lower())
        return "cased" if category == "text" and self.case_sensitive else category

    @property
    def key(self) -> tuple[str, ...]:
        return (self.relationship.lower(), self.name.lower()) if self.relationship else (self.name.lower(),)


def _relationship_name(written: str, reference_field: str) -> str:
    """The canonical relationship name: OwnerId -> Owner, Folder__c -> Folder__r."""
    if reference_field.endswith("__c"):
        candidate = reference_field[:-3] + "__r"
    elif reference_field.lower().endswith("id"):
        candidate = reference_field[:-2]
    else:
        candidate = written
    return candidate if candidate.lower() == written.lower() else written


def _bad_operator(kind: str, column: _Column, detail: str = "") -> SoqlError:
    return SoqlError(
        INVALID_QUERY_FILTER_OPERATOR, f"invalid operator on {kind} field '{column.name}'{detail}"
    )


def _no_such_column(name: str, sobject: str) -> SoqlError:
    return SoqlError(
        INVALID_FIELD,
        f"No such column '{name}' on entity '{sobject}'. If you are attempting to use a custom field, "
        "be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
        "describe call for the appropriate names.",
    )


class _Plan:
    """Name resolution, type checks and predicate compilation for one execution."""

    def __init__(self, source: RecordSource, sobject: str, today: date) -> None:
        self.source = source
        self.sobject = sobject
        self.today = today
        self._columns: dict[str, _Column] = {}
        self._related: dict[Any, tuple[str, dict] | None] = {}

    # ---- related records ----

    def related(self, record_id: Any) -> tuple[str, dict] | None:
        if not record_id:
            return None
        hit = self._related.get(record_id, _MISSING)
        if hit is _MISSING:
            hit = self.source.get(record_id)
            # A deleted parent clears the lookup: nothing to follow.
            if hit is not None and hit[1].get("IsDeleted") is True:
                hit = None
            self._related[record_id] = hit
        return hit  # type: ignore[return-value]

    # ---- names ----

    def column(self, path: str) -> _Column:
        cached = self._columns.get(path.lower())
        if cached is not None:
            return cached
        parts = path.split(".")
        if len(parts) == 1:
            found = self.source.field(self.sobject, parts[0])
            if found is None:
                raise _no_such_column(parts[0], self.sobject)
            name, type_ = found
            column = _Column(path, name, type_, lambda record, _n=name: record.get(_n))
            column.case_sensitive = self._case_sensitive(self.sobject, name)
        else:
            column = self._relationship_column(path, parts[0], parts[1])
        self._columns[path.lower()] = column
        return column

    def _case_sensitive(self, sobject: str, name: str) -> bool:
        check = getattr(self.source, "case_sensitive", None)
        return bool(check(sobject, name)) if callable(check) else False

    def _relationship_column(self, path: str, written_rel: str, written_field: str) -> _Column:
        found = self.source.relationship(self.sobject, written_rel)
        if found is None:
            raise SoqlError(
                INVALID_FIELD,
                f"Didn't understand relationship '{written_rel}' in field path. If you are attempting to "
                "use a custom relationship, be sure to append the '__r' after the custom relationship name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            )
        reference_field, targets = found
        names: dict[str, str | None] = {}
        first: tuple[str, str] | None = None
        for target in targets:
            on_target = self.source.field(target, written_field)
            names[target.lower()] = on_target[0] if on_target else None
            if on_target is not None and first is None:
                first = on_target
        if first is None:
            raise _no_such_column(written_field, targets[0] if targets else written_rel)
        first_target = next(t for t in targets if names[t.lower()] is not None)
        source = self.source

        def field_on(sobject: str) -> str | None:
            key = sobject.lower()
            if key not in names:  # a polymorphic Id pointing at an object not listed as a target
                on_target = source.field(sobject, written_field)
                names[key] = on_target[0] if on_target else None
            return names[key]

        def value_in(related: tuple[str, dict]) -> Any:
            canonical = field_on(related[0])
            return None if canonical is None else related[1].get(canonical)

        related = self.related

        def getter(record: dict) -> Any:
            hit = related(record.get(reference_field))
            return None if hit is None else value_in(hit)

        return _Column(
            path,
            first[0],
            first[1],
            getter,
            relationship=_relationship_name(written_rel, reference_field),
            reference_field=reference_field,
            value_in=value_in,
            case_sensitive=self._case_sensitive(first_target, first[0]),
        )

    # ---- WHERE ----

    def predicate(self, node: object) -> Callable[[dict], bool]:
        if isinstance(node, And):
            parts = [self.predicate(item) for item in node.items]
            return lambda record: all(p(record) for p in parts)
        if isinstance(node, Or):
            parts = [self.predicate(item) for item in node.items]
            return lambda record: any(p(record) for p in parts)
        if isinstance(node, Not):
            inner = self.predicate(node.item)
            return lambda record: not inner(record)
        if isinstance(node, Comparison):
            return self._comparison(node)
        if isinstance(node, Like):
            return self._like(node)
        if isinstance(node, InList):
            return self._in_list(node)
        raise AssertionError(node)  # pragma: no cover

    def _filterable(self, path: str) -> tuple[_Column, str]:
        column = self.column(path)
        category = column.category
        if category is None:
            raise SoqlError(INVALID_FIELD, f"field '{column.name}' can not be filtered in a query call")
        return column, category

    def _check_literal(self, column: _Column, category: str, literal: Literal) -> None:
        if isinstance(literal, NullLiteral) or isinstance(literal, _ACCEPTS[category]):
            return
        if category in ("text", "cased", "id", "multi"):
            expected = "must be of type string and should be enclosed in quotes"
        else:
            type_name = {"boolean": "boolean", "date": "date", "datetime": "dateTime"}.get(category)
            type_name = type_name or _NUMBER_TYPES.get(column.type.lower(), "double")
            expected = f"must be of type {type_name} and should not be enclosed in quotes"
        raise SoqlError(INVALID_FIELD, f"value of filter criterion for field '{column.name}' {expected}")

    def _range(self, category: str, literal: RelativeDateLiteral) -> tuple[str, str]:
        start, end = _relative_range(literal, self.today)
        if category == "date":
            return start.isoformat(), end.isoformat()
        return start.isoformat() + "T00:00:00.000", end.isoformat() + "T00:00:00.000"

    def _comparison(self, node: Comparison) -> Callable[[dict], bool]:
        column, category = self._filterable(node.path)
        literal = node.value
        self._check_literal(column, category, literal)
        op = node.op
        if category == "boolean" and op not in ("=", "!="):
            raise _bad_operator("boolean", column)
        if category == "multi" and op not in ("=", "!="):
            raise _bad_operator("multipicklist", column)
        getter = column.getter
        key = _EQUALITY_KEYS[category]
        if category == "boolean" and isinstance(literal, NullLiteral):
            literal = BooleanLiteral(False)  # "WHERE Flag = null" is "WHERE Flag = false"
        if isinstance(literal, NullLiteral):
            if op == "=":
                return lambda record: key(getter(record)) is None
            if op == "!=":
                return lambda record: key(getter(record)) is not None
            raise _malformed(f"null can only be compared with = or != (field '{column.name}')")
        if isinstance(literal, RelativeDateLiteral):
            return self._date_range(getter, key, op, *self._range(category, literal))
        if category == "id" and op in _RANGE_OPS:
            key = _raw_text
            target = literal.value  # type: ignore[union-attr]
        else:
            target = _literal_key(category, literal)
        if op == "=":
            return lambda record: key(getter(record)) == target
        if op == "!=":
            return lambda record: key(getter(record)) != target  # null values match !=, as in SOQL
        compare = _RANGE_OPS[op]

        def ranged(record: dict) -> bool:
            value = key(getter(record))
            return value is not None and compare(value, target)

        return ranged

    @staticmethod
    def _date_range(getter: Callable, key: Callable, op: str, start: str, end: str) -> Callable[[dict], bool]:
        def within(record: dict) -> bool:
            value = key(getter(record))
            if value is None:
                return op == "!="
            if op == "=":
                return start <= value < end
            if op == "!=":
                return not (start <= value < end)
            if op == "<":
                return value < start
            if op == "<=":
                return value < end
            if op == ">":
                return value >= end
            return value >= start  # >=

        return within

    def _like(self, node: Like) -> Callable[[dict], bool]:
        column, category = self._filterable(node.path)
        if category not in ("text", "cased"):
            raise _bad_operator(column.type.lower(), column, ": LIKE needs a text field")
        literal = node.value
        if not isinstance(literal, StringLiteral):
            raise SoqlError(
                INVALID_FIELD,
                f"value of filter criterion for field '{column.name}' must be of type string and should be "
                "enclosed in quotes",
            )
        flags = re.DOTALL if category == "cased" else re.IGNORECASE | re.DOTALL
        matcher = re.compile(literal.like_pattern, flags).fullmatch
        getter = column.getter

        def like(record: dict) -> bool:
            value = getter(record)
            return value is not None and matcher(value if isinstance(value, str) else str(value)) is not None

        return like

    def _in_list(self, node: InList) -> Callable[[dict], bool]:
        column, category = self._filterable(node.path)
        if category == "boolean":
            raise _bad_operator("boolean", column)
        keys: set[Any] = set()
        ranges: list[tuple[str, str]] = []
        with_null = False
        for literal in node.values:
            self._check_literal(column, category, literal)
            if isinstance(literal, NullLiteral):
                with_null = True
            elif isinstance(literal, RelativeDateLiteral):
                ranges.append(self._range(category, literal))
            else:
                keys.add(_literal_key(category, literal))
        getter = column.getter
        key = _EQUALITY_KEYS[category]
        negated = node.negated

        def member(record: dict) -> bool:
            value = key(getter(record))
            if value is None:
                found = with_null
            else:
                found = value in keys or any(start <= value < end for start, end in ranges)
            return found != negated  # NOT IN matches null values unless null is listed

        return member

    # ---- ORDER BY ----

    def sort_key(self, path: str) -> Callable[[dict], Any]:
        column = self.column(path)
        category = column.category
        if category is None:
            raise SoqlError(INVALID_FIELD, f"field '{column.name}' can not be sorted in a query call")
        getter = column.getter
        key = _ORDER_KEYS[category]
        return lambda record: key(getter(record))


def execute(
    query: Query,
    source: RecordSource,
    *,
    include_deleted: bool = False,
    now: datetime | None = None,
    attributes: Callable[[str, Any], dict] | None = None,
) -> tuple[int, list[dict]]:
    """Run ``query`` over ``source``; return ``(totalSize, rows)``.

    Rows are keyed by the selected paths with canonical casing, in SELECT order; ``Owner.Name`` becomes
    ``{"Owner": {"Name": ...}}``, or ``{"Owner": None}`` when the reference is empty. ``COUNT()`` returns
    ``(count, [])``.

    :param include_deleted: also return records with ``IsDeleted`` true (``queryAll``).
    :param now: the moment relative date literals (``TODAY``...) are computed from; default: now, UTC.
    :param attributes: when given, called as ``attributes(object name, record Id)`` for each row and each
        nested related record; the result is put first in that dict as ``"attributes"``.
    :raises SoqlError: ``INVALID_TYPE``, ``INVALID_FIELD``, ``INVALID_QUERY_FILTER_OPERATOR`` or
        ``MALFORMED_QUERY`` (see :class:`SoqlError`).
    """
    sobject = source.object_exists(query.sobject)
    if sobject is None:
        raise SoqlError(
            INVALID_TYPE,
            f"sObject type '{query.sobject}' is not supported. If you are attempting to use a custom object, "
            "be sure to append the '__c' after the entity name. Please reference your WSDL or the describe "
            "call for the appropriate names.",
        )
    moment = now or datetime.now(timezone.utc)
    today = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).date()
    plan = _Plan(source, sobject, today)

    columns: list[_Column] = []
    seen: set[tuple[str, ...]] = set()
    for path in query.fields:
        column = plan.column(path)
        if column.key in seen:
            raise _malformed(f"duplicate field selected: {path}")
        seen.add(column.key)
        columns.append(column)
    try:
        predicate = plan.predicate(query.where) if query.where is not None else None
    except RecursionError:
        raise _malformed("query is nested too deeply") from None
    orderings = [(plan.sort_key(path), asc, nulls_first) for path, asc, nulls_first in query.order_by]

    try:
        matched = [
            record
            for record in source.records(sobject)
            if (include_deleted or record.get("IsDeleted") is not True)
            and (predicate is None or predicate(record))
        ]
    except RecursionError:
        raise _malformed("query is nested too deeply") from None
    if query.count_only:
        count = len(matched)
        return (count if query.limit is None else min(count, query.limit)), []

    for key, ascending, nulls_first in reversed(orderings):
        matched = _sorted(matched, key, ascending, ascending if nulls_first is None else nulls_first)
    start = query.offset or 0
    end = None if query.limit is None else start + query.limit
    page = matched[start:end]
    rows = [_row(record, sobject, columns, plan, attributes) for record in page]
    return len(rows), rows


def _sorted(records: list[dict], key: Callable[[dict], Any], ascending: bool, nulls_first: bool) -> list:
    """One stable sort pass; earlier passes (later ORDER BY keys) survive as tie order."""
    keyed = [(key(record), record) for record in records]
    nulls = [record for value, record in keyed if value is None]
    values = [(value, record) for value, record in keyed if value is not None]
    values.sort(key=lambda pair: pair[0], reverse=not ascending)
    ordered = [record for _, record in values]
    return nulls + ordered if nulls_first else ordered + nulls


def _row(
    record: dict,
    sobject: str,
    columns: list[_Column],
    plan: _Plan,
    attributes: Callable[[str, Any], dict] | None,
) -> dict:
    row: dict[str, Any] = {}
    if attributes is not None:
        row["attributes"] = attributes(sobject, record.get("Id"))
    related_by_name: dict[str, tuple[str, dict] | None] = {}
    for column in columns:
        if column.relationship is None:
            row[column.name] = record.get(column.name)
            continue
        name = column.relationship
        if name not in related_by_name:
            hit = plan.related(record.get(column.reference_field))
            related_by_name[name] = hit
            if hit is None:
                row[name] = None
            else:
                nested: dict[str, Any] = {}
                if attributes is not None:
                    nested["attributes"] = attributes(hit[0], hit[1].get("Id"))
                row[name] = nested
        hit = related_by_name[name]
        if hit is not None:
            row[name][column.name] = column.value_in(hit)  # type: ignore[misc]
    return row
