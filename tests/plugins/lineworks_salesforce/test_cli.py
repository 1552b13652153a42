"""The ``lineworks-salesforce`` command: the archive's sources, an imported file's lines, forget one."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lineworks_salesforce.archive import Archive
from lineworks_salesforce.cli import main
from lineworks_salesforce.pipelines import Run, Source, archive_file
from lineworks_salesforce.settings import load_settings

HEADER = "日時,送信者,受信者,チャンネルID,トーク\n"
LINES = [
    "2026-11-20T09:00:00+09:00,佐藤 一郎 (sato@example.com),田中様,100,見積書を送ります\n",
    "2026-11-20T09:05:00+09:00,田中様,佐藤 一郎 (sato@example.com),100,ありがとうございます\n",
    "not a date,田中様,佐藤 一郎 (sato@example.com),100,壊れた行\n",
]


@pytest.fixture
def archive(tmp_path) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    db = Archive(url)
    db.migrate()
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "".join(LINES), encoding="utf-8")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    archive_file(
        Run(db, load_settings(), "import-1", "40029600"), path, Source.file("export.csv", sha, "admin")
    )
    return url, sha


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_should_list_the_sources_with_who_imported_them(archive):
    url, sha = archive
    code, out = _run("archive", "--archive", url, "sources")
    assert code == 0
    assert out.splitlines()[0] == "1 source(s)"
    assert f"file export.csv sha256 {sha} by admin" in out
    assert "2 message(s) first seen here, 2 line(s) of the file, 1 quarantined" in out
    code, out = _run("archive", "--archive", url, "sources", "--json")
    assert json.loads(out)["source_id"] == f"file:{sha}"


def test_should_list_a_files_lines_without_their_text_unless_asked(archive):
    url, sha = archive
    code, out = _run("archive", "--archive", url, "lines", "--source", sha)
    assert code == 0 and out.startswith(f"2 line(s) from file export.csv (sha256 {sha})")
    assert "見積書を送ります" not in out and "8 characters" in out
    code, out = _run("archive", "--archive", url, "lines", "--source", sha, "--text")
    assert "    見積書を送ります" in out


def test_should_forget_a_file_and_say_what_the_next_run_does(archive):
    url, sha = archive
    code, out = _run("archive", "--archive", url, "forget", "--source", sha, "--dry-run")
    assert code == 0 and out.startswith("would remove 2 message(s)")
    assert Archive(url).scalar("SELECT COUNT(*) FROM lw_messages") == 2  # a dry run changes nothing
    code, out = _run("archive", "--archive", url, "forget", "--source", f"file:{sha}")
    assert code == 0
    assert "2 message(s) and 1 quarantined row(s) removed" in out
    assert Archive(url).counts()["lw_messages"] == Archive(url).counts()["lw_quarantine"] == 0
    code, _ = _run("archive", "--archive", url, "forget", "--source", sha)
    assert code == 2  # gone


@pytest.mark.parametrize("source", ["nothex", "0" * 63, "0" * 64])
def test_should_refuse_a_source_that_is_not_an_imported_file(archive, source, capsys):
    url, _ = archive
    code, _ = _run("archive", "--archive", url, "forget", "--source", source)
    assert code == 2
    assert capsys.readouterr().err.startswith("lineworks-salesforce: --source: ")


def test_should_find_the_archive_of_the_airflow_connection_or_home(archive, tmp_path, monkeypatch):
    from lineworks_salesforce.cli import CliError, archive_url_from

    db = str(tmp_path / "archive.db")
    assert (
        archive_url_from(
            None, {"AIRFLOW_CONN_LINEWORKS_ARCHIVE": json.dumps({"conn_type": "sqlite", "host": db})}
        )
        == f"sqlite:///{db}"
    )
    assert archive_url_from(None, {"LINEWORKS_ARCHIVE_URL": "sqlite:///x.db"}) == "sqlite:///x.db"
    with pytest.raises(CliError, match="no archive at"):
        archive_url_from(None, {"AIRFLOW_HOME": str(tmp_path / "nowhere")})
    with pytest.raises(CliError, match="JSON form"):
        archive_url_from(None, {"AIRFLOW_CONN_LINEWORKS_ARCHIVE": "sqlite:////x"})


def test_should_be_installed_as_a_console_script():
    script = Path(sys.executable).parent / "lineworks-salesforce"
    done = subprocess.run([str(script), "archive", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "forget" in done.stdout


def test_should_run_the_doctor_on_a_file(tmp_path, capsys):
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "".join(LINES), encoding="utf-8")
    assert main(["doctor", str(path)]) == 0
    out = capsys.readouterr().out
    assert hashlib.sha256(path.read_bytes()).hexdigest() in out
    assert "見積書を送ります" not in out  # no cell of the file
    assert main(["doctor", str(tmp_path / "missing.csv")]) == 2


def test_should_migrate_an_archive_from_the_command_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code, out = _run("archive", "--archive", url, "migrate")
    assert code == 0 and out.startswith("archive schema version ") and "migrated from version 0" in out
    code, out = _run("archive", "--archive", url, "migrate")
    assert "already current" in out


def test_should_tell_to_migrate_an_archive_that_is_not_current(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    code, _ = _run("archive", "--archive", url, "sources")
    assert code == 2
    assert "run `lineworks-salesforce archive migrate`" in capsys.readouterr().err
