"""The archive/state database of the talk-log pipeline (SQLite by default, PostgreSQL in production).

The archive is the single source of truth for what has been seen (DESIGN §1): every message is
inserted once (``ON CONFLICT`` on its key), so overlapping windows, retries and history
imports never duplicate anything (a message first seen in an imported file and then downloaded becomes
the download's, see ``insert_message``). The statements live in ``include/sql/archive.sql`` and the tables are
made by the versioned migrations of ``include/sql/migrations/`` (:meth:`Archive.migrate`, the command
``lineworks-salesforce archive migrate``; the schema version is recorded in ``lw_schema_version``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

SQL_FILE = Path(__file__).resolve().parents[3] / "include" / "sql" / "archive.sql"
MIGRATIONS_DIR = SQL_FILE.parent / "migrations"
MIGRATE_COMMAND = "lineworks-salesforce archive migrate"
_SQLITE_MIGRATE_ATTEMPTS = 20
# pg_advisory_xact_lock key of migrations (any constant: "lw" in ASCII)
_PG_LOCK = 0x6C77
_BATCH = 5_000


@cache
def statements(path: Path = SQL_FILE) -> dict[str, str]:
    """The named statements of ``archive.sql`` (split on ``-- name:`` markers)."""
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"^-- name: (\w+)\s*$", text, flags=re.M)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}


class ArchiveSchemaError(ValueError):
    """The archive's schema is not the one this code needs; the message says which command to run."""


@cache
def migrations(folder: Path = MIGRATIONS_DIR) -> tuple[tuple[int, str, str], ...]:
    """(version, name, SQL) of every ``NNNN_name.sql`` in ``folder``, in order; versions 1, 2, 3…"""
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", path.name)
        if not match:
            raise ValueError(f"{path.name}: migrations are named NNNN_name.sql")
        found.append((int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise ValueError(f"migrations in {folder} must be numbered 1, 2, 3… without gaps: {versions}")
    return tuple(found)


def archive_url(
    conn_type: str,
    host: str | None = None,
    login: str | None = None,
    password: str | None = None,
    port: int | None = None,
    schema: str | None = None,
) -> str:
    """A SQLAlchemy URL from an Airflow connection's fields (``sqlite`` or ``postgres``)."""
    if conn_type == "sqlite":
        if not host:
            raise ValueError("a sqlite archive connection needs the database file path in Host")
        return f"sqlite:///{host}"
    if conn_type in ("postgres", "postgresql"):
        url = sa.engine.URL.create(
            "postgresql+psycopg2", username=login, password=password, host=host, port=port, database=schema
        )
        return url.render_as_string(hide_password=False)
    raise ValueError(f"the archive connection must be sqlite or postgres, not {conn_type!r}")


class Archive:
    """Runs the archive's statements on a SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        self.url = url
        # hide_parameters: a database error must not print the bound values (message bodies, raw lines)
        self.engine = sa.create_engine(url, future=True, hide_parameters=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sql = statements()
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    @property
    def latest_version(self) -> int:
        return len(migrations())

    def schema_version(self) -> int:
        """The archive's schema version: 0 for an empty database (or one made before migrations)."""
        inspector = sa.inspect(self.engine)
        if not inspector.has_table("lw_schema_version"):
            return 0
        with self.engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT MAX(version) FROM lw_schema_version").scalar() or 0)

    def migrate(self) -> tuple[int, int]:
        """Apply the migrations the archive has not had yet, each once, under a lock; (before, after).

        Safe to run from several tasks at once: on PostgreSQL a transaction-level advisory lock, on SQLite
        the database's write lock (taken by the first statement) makes the others wait, and each re-reads
        the version inside its lock, so a migration is applied exactly once.
        """
        current = self.schema_version()
        if current == self.latest_version:  # the usual case: no lock, no DDL (a role without CREATE works)
            return current, current
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._migrate_under_lock()
            except sa.exc.OperationalError as exc:
                # SQLite in WAL mode: a transaction that read before another migrator committed cannot
                # write (SQLITE_BUSY_SNAPSHOT, "database is locked", without waiting): start it again
                locked = self.engine.dialect.name == "sqlite" and "locked" in str(exc.orig)
                if not locked or attempt >= _SQLITE_MIGRATE_ATTEMPTS:
                    raise
                time.sleep(0.05 * attempt)

    def _migrate_under_lock(self) -> tuple[int, int]:
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL lock_timeout = '120s'")
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK})")
            conn.exec_driver_sql(
                "CREATE TABLE IF NOT EXISTS lw_schema_version ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            # a write, so SQLite takes its write lock now and a second migrator waits here
            conn.exec_driver_sql("DELETE FROM lw_schema_version WHERE version < 0")
            before = int(conn.exec_driver_sql("SELECT MAX(version) FROM lw_schema_version").scalar() or 0)
            if before > self.latest_version:
                raise ArchiveSchemaError(self._newer(before))
            for version, name, sql in migrations()[before:]:
                for statement in _split(sql):
                    conn.exec_driver_sql(statement)
                conn.execute(
                    sa.text("INSERT INTO lw_schema_version (version, name, applied_at) VALUES (:v, :n, :at)"),
                    {
                        "v": version,
                        "n": name,
                        "at": pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
                    },
                )
        return before, max(before, self.latest_version)

    def check_schema(self) -> None:
        """:class:`ArchiveSchemaError` unless the archive is at the version this code needs."""
        version = self.schema_version()
        if version < self.latest_version:
            raise ArchiveSchemaError(
                f"the archive's schema is version {version}, this code needs {self.latest_version}: "
                f"run `{MIGRATE_COMMAND}` (or let the first task of a run apply it)"
            )
        if version > self.latest_version:
            raise ArchiveSchemaError(self._newer(version))

    def _newer(self, version: int) -> str:
        return (
            f"the archive's schema is version {version}, newer than this code's {self.latest_version}: "
            "upgrade lineworks-salesforce on this worker"
        )

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    def execute_many(
        self, name: str, rows: Iterable[dict[str, Any]], conn: sa.Connection | None = None
    ) -> int:
        """Run statement ``name`` for every row, in batches; returns the rows sent."""
        sql, order = self._driver_sql(name)
        sent = 0
        batch: list[dict[str, Any]] = []

        def flush(c: sa.Connection) -> None:
            nonlocal sent
            if batch:
                params = [tuple(row[k] for k in order) for row in batch] if order else list(batch)
                c.exec_driver_sql(sql, params)  # one DBAPI executemany, no per-row compilation
                sent += len(batch)
                batch.clear()

        with self._conn(conn) as c:
            for row in rows:
                batch.append(row)
                if len(batch) >= _BATCH:
                    flush(c)
            flush(c)
        return sent

    def execute(self, name: str, params: dict[str, Any] | None = None) -> int:
        """Run statement ``name`` once, in its own transaction; returns the rows it changed."""
        with self.engine.begin() as conn:
            return conn.execute(sa.text(self.sql[name]), params or {}).rowcount

    def _driver_sql(self, name: str) -> tuple[str, tuple[str, ...] | None]:
        """Statement ``name`` compiled once for this database's driver; its parameter order if positional."""
        if name not in self._compiled:
            compiled = sa.text(self.sql[name]).compile(dialect=self.engine.dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            self._compiled[name] = (compiled.string, order)
        return self._compiled[name]

    def query(
        self, name: str, params: dict[str, Any] | None = None, conn: sa.Connection | None = None
    ) -> list[dict]:
        with self._conn(conn) as c:
            return [dict(r._mapping) for r in c.execute(sa.text(self.sql[name]), params or {})]

    def query_in(
        self, name: str, keys: Sequence[Any], conn: sa.Connection | None = None, batch: int = 500
    ) -> list[dict]:
        """Rows of query ``name``, whose ``IN :keys`` is filled with ``keys`` ``batch`` at a time."""
        statement = sa.text(self.sql[name]).bindparams(sa.bindparam("keys", expanding=True))
        with self._conn(conn) as c:
            return [
                dict(r._mapping)
                for start in range(0, len(keys), batch)
                for r in c.execute(statement, {"keys": list(keys[start : start + batch])})
            ]

    def query_raw(self, sql: str, params: dict[str, Any] | None = None) -> list[dict]:
        """Rows of an ad-hoc SELECT (portable SQL only)."""
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(sql), params or {})]

    def query_frames(
        self, name: str, params: dict[str, Any] | None = None, chunksize: int = 200_000
    ) -> Iterator[pd.DataFrame]:
        """Stream a query's rows as DataFrames of at most ``chunksize`` rows."""
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(
                sa.text(self.sql[name]), params or {}
            )
            columns = list(result.keys())
            while True:
                rows = result.fetchmany(chunksize)
                if not rows:
                    break
                yield pd.DataFrame([tuple(r) for r in rows], columns=columns)

    def query_groups(
        self, name: str, by: Sequence[str], params: dict[str, Any] | None = None, chunksize: int = 200_000
    ) -> Iterator[pd.DataFrame]:
        """Like :meth:`query_frames`, but a group of rows never straddles two frames.

        The query must be ordered by the ``by`` columns first. Each frame holds whole groups only: the last
        group of a chunk is held back and starts the next frame, so a frame can exceed ``chunksize`` by the
        rows of one group (e.g. one friend's hour in ``pending_messages``).
        """
        carry: pd.DataFrame | None = None
        for frame in self.query_frames(name, params, chunksize):
            if carry is not None:
                frame = pd.concat([carry, frame], ignore_index=True)
            keys = frame[list(by)]
            same_as_last = (keys == keys.iloc[-1]).all(axis=1).to_numpy()
            # ordered by ``by``: the last group's rows are the frame's trailing run
            start = len(frame) - int(same_as_last[::-1].cumprod().sum())
            carry = frame.iloc[start:].reset_index(drop=True)
            if start:
                yield frame.iloc[:start].reset_index(drop=True)
        if carry is not None and not carry.empty:
            yield carry

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params or {}).scalar()

    def counts(self) -> dict[str, int]:
        tables = [
            "lw_messages",
            "lw_sources",
            "lw_message_sources",
            "lw_quarantine",
            "lw_message_friends",
            "lw_pending_hours",
            "lw_outbox",
            "lw_activities",
            "lw_split_hours",
            "lw_stale_parts",
            "lw_resolution_issues",
            "lw_members",
            "lw_friends",
        ]
        return {t: int(self.scalar(f"SELECT COUNT(*) FROM {t}")) for t in tables}

    @contextmanager
    def _conn(self, conn: sa.Connection | None) -> Iterator[sa.Connection]:
        if conn is not None:
            yield conn
        else:
            with self.engine.begin() as c:
                yield c


def _split(script: str) -> Sequence[str]:
    """Statements of a script (no ``;`` inside literals or comments in our SQL), leading comments removed."""
    out = []
    for chunk in script.split(";"):
        lines = [line for line in chunk.strip().splitlines() if line.strip()]
        while lines and lines[0].lstrip().startswith("--"):
            lines.pop(0)
        if lines:
            out.append("\n".join(lines))
    return out


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    import sqlite3

    cursor = dbapi_connection.cursor()
    # the busy timeout first: switching a new file to WAL takes a lock that concurrent openers wait for
    cursor.execute("PRAGMA busy_timeout=30000")
    # WAL is a property of the file: once one opener set it, the others only read it. Setting it needs a
    # lock that SQLite does not wait for (seen: "database is locked" while several migrators open a new
    # file at once), so try again briefly rather than fail the task.
    for attempt in range(1, 51):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 50:
                raise
            time.sleep(0.02 * attempt)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
