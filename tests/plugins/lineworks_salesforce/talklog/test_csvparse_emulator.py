"""The parser on CSVs produced by the LINE WORKS emulator's own code (sandbox.lineworks.state)."""

from __future__ import annotations

import pandas as pd
import pytest

from lineworks_salesforce.talklog.csvparse import ParseSettings, parse_message_csv
from lineworks_salesforce.talklog.keys import message_key
from sandbox.lineworks.state import LineWorksState
from tests.plugins.lineworks_salesforce.talklog.helpers import download, parse, window_rows

START, END = "2026-11-20T09:00:00+09:00", "2026-11-22T09:00:00+09:00"  # the whole "test" scenario
KIND_OF_REF = {"m": "member", "f": "external", "b": "bot"}


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> LineWorksState:
    state = LineWorksState(tmp_path_factory.mktemp("lw") / "state.db")
    state.seed({"generator": {"size": "test", "seed": 7}})
    return state


@pytest.fixture(scope="module")
def ja_csv(state: LineWorksState, tmp_path_factory: pytest.TempPathFactory):
    return download(state, tmp_path_factory.mktemp("csv") / "ja.csv", START, END)


def _check_against_emulator(messages: pd.DataFrame, quarantined: pd.DataFrame, expected: list[tuple]) -> None:
    assert quarantined.empty, quarantined[["row_number", "reason", "detail"]].head().to_dict("records")
    assert len(messages) == len(expected) > 1000
    assert messages["content_kind"].tolist() == [kind for _, kind, _ in expected]
    assert messages["sender_kind"].tolist() == [KIND_OF_REF[ref[0]] for ref, _, _ in expected]
    assert messages["text"].tolist() == [text for _, _, text in expected]


class TestEmulatorCsv:
    def test_should_load_every_message_of_the_window_with_kinds_recognised(self, state, ja_csv):
        messages, quarantined, parser = parse(ja_csv, domain_id=str(state.domain_id))
        _check_against_emulator(messages, quarantined, window_rows(state, START, END))
        kinds = set(messages["content_kind"])
        assert {"text", "photo", "file", "video", "stamp", "location"} <= kinds
        assert {"member", "external", "bot"} == set(messages["sender_kind"])
        assert messages["text"].str.contains("\n").any()  # multi-line cells
        assert parser.layout.name == "ja_JP" and parser.stats.strict_chunks == 0
        assert str(messages["sent_at"].dtype) == "datetime64[ns, UTC]"
        assert messages["ordinal"].dtype == "int64" and messages["row_number"].dtype == "int64"
        assert messages["row_number"].is_monotonic_increasing and messages["row_number"].iloc[0] == 2
        assert messages["message_key"].is_unique
        assert (messages["domain_id"] == str(state.domain_id)).all()

    def test_should_parse_people_cells(self, ja_csv):
        messages, _, _ = parse(ja_csv)
        members = messages[messages["sender_kind"] == "member"]
        assert members["sender_email"].str.contains("@").all()
        assert (members["sender_email"] == members["sender_email"].str.lower()).all()
        assert (members["sender_name"] != "").all()
        bots = messages[messages["sender_kind"] == "bot"]
        assert set(bots["sender_name"]) == {"社外連絡先Bot"} and (bots["sender_email"] == "").all()
        external = messages[messages["sender_kind"] == "external"]
        assert (external["sender_name"] == external["sender_raw"].str.strip()).all()
        assert 'Yamada, "Ken"' in set(external["sender_name"])  # comma and quotes inside a quoted cell
        assert messages["recipients_raw"].str.contains(", ").any()  # several recipients in one cell

    def test_should_compute_keys_in_the_documented_canonical_form(self, ja_csv):
        messages, _, _ = parse(ja_csv, domain_id="40000001")
        for row in messages.sample(50, random_state=1).itertuples():
            iso = row.sent_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            expected = message_key("40000001", row.channel_id, iso, row.sender_raw, row.text, row.ordinal)
            assert row.message_key == expected

    @pytest.mark.parametrize(
        ("config", "language"),
        [
            ({"csv_date_format": "slash"}, "ja_JP"),
            ({"csv_date_format": "dash", "csv_bom": False}, "ja_JP"),
            ({}, "en_US"),
            ({"csv_member_format": "{email}"}, "ja_JP"),
            ({"csv_member_format": "{name}({email})"}, "en_US"),
        ],
    )
    def test_should_read_the_emulator_format_variants(self, state, ja_csv, tmp_path, config, language):
        reference, _, _ = parse(ja_csv)
        old = dict(state.config)
        try:
            state.update_config(config)
            path = download(state, tmp_path / "variant.csv", START, END, language)
        finally:
            state.update_config({k: old[k] for k in config})
        messages, quarantined, parser = parse(path)
        _check_against_emulator(messages, quarantined, window_rows(state, START, END))
        assert parser.layout.name == language
        # same instants and the same keys whatever the date format (the member format changes sender_raw)
        assert messages["sent_at"].tolist() == reference["sent_at"].tolist()
        if "csv_member_format" not in config:
            assert messages["message_key"].tolist() == reference["message_key"].tolist()
        else:
            members = messages[messages["sender_kind"] == "member"]
            assert (members["sender_email"] == reference.loc[members.index, "sender_email"]).all()

    def test_should_give_the_same_keys_for_overlapping_windows(self, state, tmp_path):
        a = download(state, tmp_path / "a.csv", START, "2026-11-21T15:00:00+09:00")
        b = download(state, tmp_path / "b.csv", "2026-11-21T06:00:00+09:00", END)
        ma, _, _ = parse(a)
        mb, _, _ = parse(b)
        shared_from = pd.Timestamp("2026-11-21T06:00:00+09:00")
        shared_to = pd.Timestamp("2026-11-21T15:00:00+09:00")
        in_a = ma[ma["sent_at"] >= shared_from]
        in_b = mb[mb["sent_at"] < shared_to]
        assert len(in_a) > 100
        assert in_a["message_key"].tolist() == in_b["message_key"].tolist()
        assert in_a["text"].tolist() == in_b["text"].tolist()

    def test_should_give_the_same_result_when_parsed_again_and_in_tiny_chunks(self, ja_csv):
        one, q1, _ = parse(ja_csv, chunk_rows=1_000_000)
        again, _, _ = parse(ja_csv)
        tiny, q2, parser = parse(ja_csv, chunk_rows=7)
        assert parser.stats.chunks > 200
        pd.testing.assert_frame_equal(one, again)
        pd.testing.assert_frame_equal(one, tiny)
        assert q1.empty and q2.empty

    def test_should_match_the_strict_reader(self, ja_csv):
        fast, _, _ = parse(ja_csv, chunk_rows=500)
        strict, _, parser = parse(ja_csv, chunk_rows=500, strict=True)
        assert parser.stats.strict_chunks > 0
        pd.testing.assert_frame_equal(fast, strict)

    def test_should_stream_chunks_no_larger_than_chunk_rows(self, ja_csv):
        sizes = [
            len(c.messages) + len(c.quarantined)
            for c in parse_message_csv(ja_csv, ParseSettings(chunk_rows=300))
        ]
        assert max(sizes) <= 300 and sum(sizes) > 1000
