"""The history import's form and file, as a careless or hostile user with permission to trigger DAGs
would fill them in: each case is refused at once, naming the field, without echoing what was typed —
or imported correctly. (The real ``airflow dags test`` runs are in tests/dags.)"""

from __future__ import annotations

import os
import re
import socket
from datetime import date
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

import pytest

from lineworks_salesforce.pipelines import HistoryRequest, history_request
from lineworks_salesforce.pipelines.file_import import ImportRefused, copy_capped
from operators.talk_logs import fetch_import, fetch_object

TODAY = date(2026, 12, 2)
CSV = (
    "日時,送信者,受信者,チャンネルID,トーク\n2026-11-20 09:00:00,a@example.com,友だち,1,こんにちは\n".encode()
)


def _form(**fields) -> dict:
    return {"mode": "range", "start": "2026-06-01", "end": "2026-06-30", "file": "", **fields}


# (name, form, the field the refusal must name)
FORMS = [
    ("no mode", {"start": "2026-06-01", "end": "2026-06-30"}, "mode"),
    ("unknown mode", _form(mode="everything"), "mode"),
    ("mode as a list", _form(mode=["file"]), "mode"),
    ("mode in capitals", _form(mode="FILE"), "mode"),
    ("file mode, empty", _form(mode="file"), "file"),
    ("file mode, spaces", _form(mode="file", file="   \u3000 "), "file"),
    ("file mode, null", _form(mode="file", file=None), "file"),
    ("file mode, a number", _form(mode="file", file=42), "file"),
    ("file mode, a list", _form(mode="file", file=["a.csv"]), "file"),
    ("/etc/passwd", _form(mode="file", file="/etc/passwd"), "file"),
    ("/proc/self/environ", _form(mode="file", file="/proc/self/environ"), "file"),
    ("/dev/zero", _form(mode="file", file="/dev/zero"), "file"),
    ("../../etc/passwd", _form(mode="file", file="../../etc/passwd"), "file"),
    ("a/../../b.csv", _form(mode="file", file="a/../../b.csv"), "file"),
    ("..", _form(mode="file", file=".."), "file"),
    (".", _form(mode="file", file="."), "file"),
    ("./", _form(mode="file", file="./"), "file"),
    ("file:///etc/passwd", _form(mode="file", file="file:///etc/passwd"), "file"),
    ("file:/etc/passwd", _form(mode="file", file="file:/etc/passwd"), "file"),
    ("http URL", _form(mode="file", file="http://169.254.169.254/latest/meta-data"), "file"),
    ("https URL", _form(mode="file", file="https://example.com/talk.csv"), "file"),
    ("s3 URL", _form(mode="file", file="s3://other-bucket/talk.csv"), "file"),
    ("gs URL", _form(mode="file", file="gs://bucket/talk.csv"), "file"),
    ("ftp URL", _form(mode="file", file="ftp://example.com/talk.csv"), "file"),
    ("data URL", _form(mode="file", file="data:text/csv;base64,QUJD"), "file"),
    ("a Windows drive", _form(mode="file", file="C:\\Windows\\win.ini"), "file"),
    ("a UNC path", _form(mode="file", file="\\\\server\\share\\talk.csv"), "file"),
    ("backslash traversal", _form(mode="file", file="..\\..\\etc\\passwd"), "file"),
    ("home folder", _form(mode="file", file="~/talk.csv"), "file"),
    ("NUL in the name", _form(mode="file", file="talk.csv\x00.png"), "file"),
    ("newline in the name", _form(mode="file", file="talk\n.csv"), "file"),
    ("right-to-left override", _form(mode="file", file="talk\u202evsc.exe"), "file"),
    ("a 5,000-character name", _form(mode="file", file="a" * 5000), "file"),
    ("1900 → 2026 (1,500 downloads)", _form(start="1900-01-01", end="2026-11-30"), "start"),
    ("end 9999-12-31", _form(end="9999-12-31"), "end"),
    ("year 0000", _form(start="0000-01-01"), "start"),
    ("a five-digit year", _form(end="52026-12-04"), "end"),
    ("February 30th", _form(start="2026-02-30"), "start"),
    ("a date as a number", _form(start=20260601), "start"),
    ("a date with a time", _form(start="2026-06-01T00:00:00"), "start"),
    ("a date with spaces", _form(start=" 2026-06-01"), "start"),
    ("full-width digits", _form(start="２０２６-０６-０１"), "start"),
    ("end before start", _form(start="2026-06-30", end="2026-06-01"), "end"),
    ("401 days", _form(start="2025-10-01", end="2026-11-05"), "end"),
    ("the future", _form(start="2026-12-01", end="2027-01-31"), "end"),
    ("rerender over 401 days", _form(mode="rerender", start="2025-10-01", end="2026-11-05"), "end"),
    ("params not a mapping", ["range"], "params"),
]


@pytest.mark.parametrize(("form", "field"), [c[1:] for c in FORMS], ids=[c[0] for c in FORMS])
def test_should_refuse_a_hostile_form_at_once_naming_the_field(form, field):
    with pytest.raises(ValueError, match=rf"^{field}: ") as caught:
        history_request(form, today=TODAY)
    text = str(caught.value)
    typed = form.get("file") if isinstance(form, dict) else None
    if isinstance(typed, str) and len(typed.strip()) > 3:
        assert typed.strip() not in text  # nothing the user typed is echoed
    assert len(text.splitlines()[0]) <= 200


def test_should_count_the_hostile_cases():
    assert len(FORMS) + len(FILES) >= 40


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        (
            _form(start="2025-11-01", end="2026-12-03"),
            HistoryRequest("range", date(2025, 11, 1), date(2026, 12, 3)),
        ),
        (
            _form(mode="file", file=" 2026-11/トーク 履歴.csv "),
            HistoryRequest("file", file="2026-11/トーク 履歴.csv"),
        ),
        (_form(mode="file", file="./a//b.csv"), HistoryRequest("file", file="a/b.csv")),
    ],
)
def test_should_accept_the_edges_of_a_good_form(form, expected):
    assert history_request(form, today=TODAY) == expected  # 398 days; tomorrow (JST) is allowed


def test_should_refuse_file_mode_when_an_admin_switched_it_off():
    with pytest.raises(ValueError, match="^mode: .*file_import_enabled"):
        history_request(_form(mode="file", file="talk.csv"), file_import_enabled=False, today=TODAY)


def test_should_honour_the_configured_maximum_range():
    with pytest.raises(ValueError, match="^end: the range has 31 days, more than import_max_days \\(30\\)"):
        history_request(_form(start="2026-06-01", end="2026-07-01"), max_days=30, today=TODAY)


# --- the file inside the import location -------------------------------------------------------------
@pytest.fixture
def location(tmp_path) -> Path:
    root = tmp_path / "imports"
    (root / "2026").mkdir(parents=True)
    (root / "talk.csv").write_bytes(CSV)
    (root / "2026" / "トーク.csv").write_bytes(CSV)
    outside = tmp_path / "outside.csv"
    outside.write_bytes(CSV)
    return root


def _cfg(root: Path | str, max_bytes: int = 1 << 20) -> SimpleNamespace:
    return SimpleNamespace(import_location=str(root), import_max_bytes=max_bytes)


def _fifo(root: Path) -> str:
    os.mkfifo(root / "pipe.csv")
    return "pipe.csv"


def _socket(root: Path) -> str:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock.csv"))
    sock.close()
    return "sock.csv"


def _link(target: str | Path, name: str = "link.csv"):
    def make(root: Path) -> str:
        (root / name).symlink_to(target)
        return name

    return make


def _loop(root: Path) -> str:
    (root / "a.csv").symlink_to(root / "b.csv")
    (root / "b.csv").symlink_to(root / "a.csv")
    return "a.csv"


def _big(root: Path) -> str:
    (root / "big.csv").write_bytes(b"x" * ((1 << 20) + 1))
    return "big.csv"


def _empty(root: Path) -> str:
    (root / "empty.csv").write_bytes(b"")
    return "empty.csv"


def _link_out_of_subfolder(root: Path) -> str:
    (root / "2026" / "out").symlink_to(root.parent)
    return "2026/out/outside.csv"


def _unreadable(root: Path) -> str:
    # a name that resolves to the folder itself
    return "2026/.."


# (name, set-up returning the form's file name, expected reason fragment)
FILES = [
    ("a FIFO (would hang the task)", _fifo, "not a regular file (a FIFO)"),
    ("a socket", _socket, "not a regular file (a socket)"),
    ("a folder", lambda root: "2026", "not a regular file (a folder)"),
    ("a symlink to /dev/zero", _link("/dev/zero"), "outside the import location"),
    ("a symlink to /proc/self/environ", _link("/proc/self/environ"), "outside the import location"),
    ("a symlink to /etc/passwd", _link("/etc/passwd"), "outside the import location"),
    ("a symlink to a file next to the folder", lambda r: _link(r.parent / "outside.csv")(r), "outside"),
    ("a symlinked folder leading out", _link_out_of_subfolder, "outside the import location"),
    ("a symlink loop", _loop, "cannot be resolved"),
    ("a missing file", lambda root: "missing.csv", "no such file"),
    ("one byte over the cap", _big, "more than import_max_bytes"),
    ("an empty file", _empty, "the file is empty"),
]


@pytest.mark.parametrize(("setup", "reason"), [c[1:] for c in FILES], ids=[c[0] for c in FILES])
def test_should_refuse_a_file_that_is_not_a_regular_file_inside_the_location(
    location, tmp_path, setup, reason
):
    name = setup(location)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(ImportRefused, match=rf"^file: .*{re.escape(reason)}") as caught:
        fetch_import(_cfg(location), name, scratch)
    assert caught.value.field == "file"
    assert list(scratch.iterdir()) == []  # nothing copied, nothing left behind


def test_should_import_a_file_inside_the_location_and_give_its_sha256(location, tmp_path):
    import hashlib

    (location / "ok-link.csv").symlink_to(location / "2026" / "トーク.csv")  # a link that stays inside
    for name in ("talk.csv", "2026/トーク.csv", "ok-link.csv", "./2026//トーク.csv"):
        scratch = tmp_path / f"scratch-{abs(hash(name))}"
        scratch.mkdir()
        imported = fetch_import(_cfg(location), name, scratch)
        assert imported.local_path.read_bytes() == CSV
        assert (imported.size, imported.sha256) == (len(CSV), hashlib.sha256(CSV).hexdigest())


def test_should_refuse_an_import_location_that_does_not_exist(tmp_path):
    with pytest.raises(ImportRefused, match="^import_location: the import folder does not exist"):
        fetch_import(_cfg(tmp_path / "nowhere"), "talk.csv", tmp_path)


def test_should_read_a_file_url_location_as_the_local_folder(location, tmp_path):
    imported = fetch_import(_cfg(f"file://{location}"), "talk.csv", tmp_path)
    assert imported.local_path.read_bytes() == CSV


def test_should_stop_a_stream_that_grows_past_the_cap(tmp_path):
    import io

    dest = tmp_path / "copy.csv"
    with pytest.raises(ImportRefused, match="grew past import_max_bytes"):
        copy_capped(io.BytesIO(b"y" * 5000), dest, max_bytes=4096)
    assert not dest.exists()  # the partial copy is removed


def test_should_check_an_object_storage_object_before_and_while_copying(location, tmp_path):
    from airflow.sdk import ObjectStoragePath

    root = ObjectStoragePath(f"file://{location}/")  # the object-storage path, on fsspec's local filesystem
    size, _ = fetch_object(root, PurePosixPath("2026/トーク.csv"), 1 << 20, tmp_path / "a.csv")
    assert size == len(CSV)
    _fifo(location)
    for name, reason in (
        ("missing.csv", "no such file"),
        ("2026", "not a regular file"),
        ("pipe.csv", "not a"),
    ):
        with pytest.raises(ImportRefused, match=reason):
            fetch_object(root, PurePosixPath(name), 1 << 20, tmp_path / "b.csv")
    with pytest.raises(ImportRefused, match="more than import_max_bytes"):
        fetch_object(root, PurePosixPath("talk.csv"), 10, tmp_path / "c.csv")
    assert not (tmp_path / "b.csv").exists() and not (tmp_path / "c.csv").exists()
