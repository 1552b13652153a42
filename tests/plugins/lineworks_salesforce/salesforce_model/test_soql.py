"""``soql_in_chunks``: IN lists cut by count and by the URL length a query may have."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from lineworks_salesforce.salesforce_model.soql import QUERY_URL_MAX_BYTES, soql, soql_in_chunks

TEMPLATE = "SELECT Id FROM ExternalContact__c WHERE LineWorksContactId__c IN {ids} AND Name != {name}"


def _ids(n: int, width: int = 36) -> list[str]:
    return [f"{i:0{width}d}" for i in range(n)]


def test_should_cut_by_count_when_the_ids_are_short():
    queries = list(soql_in_chunks(TEMPLATE, "ids", _ids(7, 4), max_values=3, name="x"))
    assert queries == [soql(TEMPLATE, ids=_ids(7, 4)[i : i + 3], name="x") for i in (0, 3, 6)]


def test_should_keep_every_query_within_the_url_limit_whatever_the_count():
    ids = _ids(2_000) + ["ユーザー'引用" * 20]  # long, escaped and non-ASCII values too
    queries = list(soql_in_chunks(TEMPLATE, "ids", ids, max_values=2_000, name="x"))
    sizes = [len(quote(q, safe="")) for q in queries]
    assert len(queries) > 1 and max(sizes) <= QUERY_URL_MAX_BYTES
    chunks = _split_like(queries, ids)
    # every id once, in order
    assert queries == [soql(TEMPLATE, ids=chunk, name="x") for chunk in chunks]
    # a chunk ends only where its next id would not fit: nothing is wasted
    for size, following in zip(sizes, chunks[1:]):
        assert size + len(quote(", " + soql("{v}", v=following[0]), safe="")) > QUERY_URL_MAX_BYTES


def _split_like(queries: list[str], ids: list[str]) -> list[list[str]]:
    out, at = [], 0
    for q in queries:
        n = q.count(", ") + 1 if " IN (" in q else 0
        out.append(ids[at : at + n])
        at += n
    assert at == len(ids)
    return out


def test_should_refuse_a_value_that_alone_is_too_long():
    with pytest.raises(ValueError, match="single value"):
        list(soql_in_chunks(TEMPLATE, "ids", ["x" * 20_000], max_values=10, name="x"))


def test_should_yield_nothing_for_no_values():
    assert list(soql_in_chunks(TEMPLATE, "ids", [], max_values=10, name="x")) == []


def test_should_refuse_a_template_that_repeats_the_list():
    with pytest.raises(ValueError, match="exactly once"):
        list(
            soql_in_chunks(
                "SELECT Id FROM A__c WHERE X__c IN {ids} OR Y__c IN {ids}", "ids", ["a"], max_values=9
            )
        )
