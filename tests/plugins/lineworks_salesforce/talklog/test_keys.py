"""Message keys (canonical form), activity keys and hour buckets."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from lineworks_salesforce.talklog.keys import (
    canonical_text,
    hour_bucket,
    message_key,
    message_keys,
    message_keys_at,
    utc_iso_seconds,
    utc_iso_strings,
)

JST = timezone(timedelta(hours=9))


def test_should_hash_the_documented_canonical_form():
    data = "\x1f".join(["40064200", "ch-1", "2025-05-30T09:24:53Z", "[Bot]test", "Line 1\nLine 2", "0"])
    expected = hashlib.blake2b(data.encode(), digest_size=16).hexdigest()
    assert (
        message_key(40064200, "ch-1", "2025-05-30T09:24:53Z", "[Bot]test", "Line 1\r\nLine 2", 0) == expected
    )
    when = datetime(2025, 5, 30, 18, 24, 53, 900_000, tzinfo=JST)  # fractions are dropped
    assert message_key("40064200", "ch-1", when, "[Bot]\x07test", "Line 1\nLi\x07ne 2", 0) == expected
    assert len(expected) == 32 and expected != message_key(
        40064200, "ch-1", when, "[Bot]test", "Line 1\nLine 2", 1
    )


def test_should_canonicalise_text():
    assert canonical_text("a\r\nb\rc\x00d\x1fe\x7f\u0085f\tg\u200d") == "a\nb\ncdef\tg\u200d"
    assert canonical_text("👩🏽‍💻☀️") == "👩🏽‍💻☀️"


def test_should_give_the_same_keys_vectorised():
    seconds = np.array([0, 1_748_597_093, 4_102_444_799, -1], dtype=np.int64)
    isos = utc_iso_strings(seconds)
    assert isos == [
        "1970-01-01T00:00:00Z",
        "2025-05-30T09:24:53Z",
        "2099-12-31T23:59:59Z",
        "1969-12-31T23:59:59Z",
    ]
    assert isos[1] == utc_iso_seconds(pd.Timestamp("2025-05-30T18:24:53+09:00"))
    channels, senders, texts = ["c"] * 4, ["s", "t", "u", "v"], ["x", "y\nz", "", "😀"]
    one_by_one = [message_key("7", c, t, s, x, 0) for c, t, s, x in zip(channels, isos, senders, texts)]
    assert message_keys("7", channels, isos, senders, texts) == one_by_one
    assert message_keys_at("7", channels, seconds, senders, texts) == one_by_one
    assert message_keys("7", channels, isos, senders, texts, [0, 0, 0, 0]) == one_by_one
    assert message_keys_at("7", [], np.array([], dtype=np.int64), [], []) == []


def test_should_bucket_instants_by_the_hour_of_the_org_timezone():
    ts = pd.Series(
        pd.to_datetime(["2026-11-20T00:59:59Z", "2026-11-20T01:00:00Z", "2026-11-19T15:30:00Z"], utc=True)
    )
    tokyo = hour_bucket(ts, "Asia/Tokyo")
    assert tokyo.dt.strftime("%Y%m%d%H").tolist() == ["2026112009", "2026112010", "2026112000"]
    assert str(tokyo.dt.tz) == "Asia/Tokyo"
    kolkata = hour_bucket(ts, "Asia/Kolkata")  # +05:30: wall-clock hours, not UTC hours
    assert kolkata.dt.strftime("%Y%m%d%H%M").tolist() == ["202611200600", "202611200600", "202611192100"]
    # the repeated hour of a DST fall-back gives two buckets and no error
    fall = pd.Series(pd.to_datetime(["2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"], utc=True))
    ny = hour_bucket(fall, "America/New_York")
    assert ny.dt.strftime("%H%z").tolist() == ["01-0400", "01-0500"]
    naive = hour_bucket(pd.Series(pd.to_datetime(["2026-11-20 00:30:00"])), "Asia/Tokyo")
    assert naive.dt.strftime("%Y%m%d%H").tolist() == ["2026112009"]
