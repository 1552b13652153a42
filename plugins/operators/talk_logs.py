"""Airflow glue of the talk-log DAGs: build a pipeline ``Run`` from connections, settings and context.

The steps themselves live in :mod:`lineworks_salesforce.pipelines` (no Airflow in them); this module only
finds the
connections (``lineworks_default``, ``salesforce_default``, ``lineworks_archive``), the settings
(``include/config/settings.yaml`` + the Variable ``lineworks_salesforce_settings``), the run id, and the
file a history import may read.

**Deterministic errors fail fast.** A wrong setting, a wrong trigger form, a file that may not be
imported or whose content cannot be parsed fails the task at once (:class:`AirflowFailException`,
one line naming the field or setting): retrying cannot fix them. Only transport errors (the hooks'
``*TransientError``) are retried by Airflow.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


REASON_CHARS = 200  # the first line of a failure: the whole reason, readable in the log panel


def reason_first(message: str, limit: int = REASON_CHARS) -> str:
    """``message`` with a first line of at most ``limit`` characters: a longer one is cut after its last
    ``"; "`` that fits (else ``": "``, ``", "``, a space), the rest following on the next lines."""
    first, newline, rest = message.partition("\n")
    if len(first) <= limit:
        return message
    for sep in ("; ", ": ", ", ", " "):  # the strongest break that keeps a third of the line
        cut = first.rfind(sep, 0, limit - 1)
        if cut > limit // 3:
            cut += 1  # the separator's punctuation ends the first line
            break
    else:
        cut = limit
    head, tail = first[:cut].rstrip(), first[cut:].strip()
    return head + "\n  " + reason_first(tail, limit) + (newline + rest if newline else "")


def configuration_error(message: str):
    """The :class:`AirflowFailException` (no retries) of a configuration error: settings, connections,
    a trigger form, a file that cannot be imported. Its first line is the whole reason."""
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(reason_first(message))


@contextmanager
def fail_fast(what: str = "") -> Iterator[None]:
    """Turn the deterministic errors of our own code (``ValueError`` and its kinds: settings, forms,
    file content) into :class:`AirflowFailException`, so Airflow does not retry them."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except AirflowFailException:
        raise
    except ValueError as exc:  # SettingsError, HistoryFormError, ImportRefused, csvparse errors...
        raise configuration_error(f"{what}: {exc}" if what else str(exc)) from None


# Executors whose tasks all run on this machine: only there is a local SQLite archive or a file:// staging
# folder the same for every task (under Celery or Kubernetes each worker would have its own).
LOCAL_EXECUTORS = ("LocalExecutor", "SequentialExecutor", "DebugExecutor")


def require_local_executor(what: str, executor: str | None = None) -> None:
    """:class:`AirflowFailException` unless every configured executor runs tasks on this machine."""
    if executor is None:
        from airflow.configuration import conf

        executor = conf.get("core", "executor", fallback="LocalExecutor")
    names = [e.strip().rsplit(".", 1)[-1].split(":")[-1] for e in executor.split(",") if e.strip()]
    remote = [n for n in names if n not in LOCAL_EXECUTORS]
    if remote:
        raise configuration_error(
            f"{what} only works when every task runs on one machine (LocalExecutor, airflow standalone), "
            f"not under {remote[0]}: each worker would have its own; see README 'The archive database'"
        )


def settings():
    """Pipeline settings: YAML defaults overridden by the Variable (JSON), validated."""
    from airflow.sdk import Variable

    from lineworks_salesforce.settings import VARIABLE_NAME, settings_from_variable

    raw = Variable.get(VARIABLE_NAME, default=None)
    with fail_fast("settings"):
        return settings_from_variable(raw)


def archive_for(conn_id: str, migrate: bool = False):
    """The archive behind connection ``conn_id``; a local SQLite file when the connection is not defined.

    The first task of a run (``migrate=True``: ``archive``, ``import_history``) applies pending schema
    migrations under the archive's lock; every other task checks the version and fails at once, saying
    which command to run, on an archive whose schema is older or newer than this code's.
    """
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk import BaseHook

    from lineworks_salesforce.archive import Archive, archive_url

    try:
        conn = BaseHook.get_connection(conn_id)
        with fail_fast(f"connection {conn_id}"):
            url = archive_url(conn.conn_type, conn.host, conn.login, conn.password, conn.port, conn.schema)
    except AirflowNotFoundException:
        require_local_executor(f"connection {conn_id} is not defined: the local SQLite archive fallback")
        from lineworks_salesforce.settings import airflow_home

        path = os.path.join(airflow_home(), "lineworks_archive.db")
        log.warning(
            "Connection %r is not defined; using the SQLite archive %s (LocalExecutor only: define the "
            "connection for production)",
            conn_id,
            path,
        )
        url = f"sqlite:///{path}"
    archive = Archive(url)
    with fail_fast("archive"):
        if migrate:
            archive.migrate()
        else:
            archive.check_schema()
    return archive


def make_run(context: dict[str, Any], migrate: bool = False):
    """The pipeline ``Run`` of this task: archive, settings, run id and the LINE WORKS domain id
    (``migrate``: the run's first task, which brings the archive's schema up to date)."""
    from hooks.lineworks import LineWorksHook
    from lineworks_salesforce.pipelines import Run
    from lineworks_salesforce.settings import validate_domain_id

    cfg = settings()
    with fail_fast("domain id"):
        domain = cfg.domain_id or validate_domain_id(
            LineWorksHook(cfg.lineworks_conn_id).settings.domain_id or "",
            field=f"the Domain ID of connection {cfg.lineworks_conn_id}",
        )
        if not domain:
            raise ValueError(
                "set the LINE WORKS Domain ID on the connection or the setting domain_id: "
                "activity keys include it"
            )
    return Run(
        archive=archive_for(cfg.archive_conn_id, migrate=migrate),
        settings=cfg,
        run_id=context["run_id"],
        domain_id=domain,
    )


# --- the tasks both DAGs share (each DAG task is one call into these) ----------------------------------
def extract_window(data_interval_end: datetime | None, staging_url: str) -> dict[str, Any]:
    """``lineworks_talk_logs``' extract: the message contents of the look-back window ending at the
    interval's end, downloaded and staged under ``staging_url``."""
    import shutil

    from airflow.sdk import ObjectStoragePath

    from hooks.lineworks import LineWorksHook

    if staging_url.startswith("file://"):
        require_local_executor("a file:// staging folder (LINEWORKS_STAGING_URL)")
    if data_interval_end is None:
        raise configuration_error(
            "lineworks_talk_logs runs need a data interval (trigger with a logical date)"
        )
    cfg = settings()
    start = data_interval_end - timedelta(hours=cfg.lookback_hours)
    dest = ObjectStoragePath(staging_url) / "message-contents" / f"{data_interval_end:%Y%m%dT%H%M%S}.csv"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        result = LineWorksHook(cfg.lineworks_conn_id).download_message_contents(
            start, data_interval_end, f"{scratch}/talk.csv", language=cfg.csv_language
        )
        with open(result.path, "rb") as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    return {"staged": str(dest), "window": [start.isoformat(), data_interval_end.isoformat()]}


def resolve_task(context: dict[str, Any]) -> dict[str, Any]:
    """Members and LINE friends from LINE WORKS; who each new message is with."""
    from hooks.lineworks import LineWorksHook
    from lineworks_salesforce.pipelines import refresh_directory, resolve

    run = make_run(context)
    return {**refresh_directory(run, LineWorksHook(run.settings.lineworks_conn_id)), **resolve(run)}


def build_task(context: dict[str, Any]) -> dict[str, Any]:
    """Render each pending (friend, hour) as Tasks; only changed ones go to the outbox."""
    from hooks.salesforce import SalesforceActivityHook
    from lineworks_salesforce.pipelines import build

    run = make_run(context)
    return build(run, SalesforceActivityHook(run.settings.salesforce_conn_id))


def load_task(context: dict[str, Any]) -> dict[str, Any]:
    """Upsert the outbox to Salesforce (Collections or one Bulk 2.0 job); store the results."""
    from hooks.activity_loader import ActivityLoader
    from hooks.salesforce import SalesforceActivityHook
    from lineworks_salesforce.pipelines import load

    run = make_run(context)
    return load(run, ActivityLoader(SalesforceActivityHook(run.settings.salesforce_conn_id)))


def talk_logs_summary(archived: dict, resolved: dict, built: dict, loaded: dict) -> dict[str, Any]:
    """One line per run, no message text: what came in, what was quarantined, what Salesforce got."""
    result = {
        "source": archived.get("source"),
        "rows_downloaded": archived["rows"],
        "new_messages": archived["new_messages"],
        "quarantined": archived["quarantined"],
        "resolution": resolved.get("resolution", {}),
        "unresolved_participants": resolved.get("issues", {}),
        "created": loaded["created"],
        "updated": loaded["updated"],
        "unchanged": built["unchanged"],
        "rejected": loaded["rejected"],
        "deleted_stale_parts": loaded.get("deleted", 0),
        "stale_parts_not_deleted": loaded.get("delete_refused", 0),
        "waiting_for_registration": built["waiting_friends"],
        "salesforce_calls": built.get("salesforce_calls", 0) + loaded["salesforce_calls"],
    }
    log.info("lineworks_talk_logs summary: %s", result)
    return result


def history_load_task(built: dict, archived: dict, context: dict[str, Any]) -> dict[str, Any]:
    """``lineworks_history_import``'s load, and its summary line."""
    loaded = load_task(context)
    log.info("lineworks_history_import summary: %s", {**archived, **loaded, "unchanged": built["unchanged"]})
    return loaded


def archive_staged(staged: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """``lineworks_talk_logs``' archive task: the staged download of ``extract`` into the archive."""
    import hashlib

    from airflow.sdk import ObjectStoragePath

    from lineworks_salesforce.pipelines import Source, archive_file

    run = make_run(context, migrate=True)
    path = ObjectStoragePath(staged["staged"])
    start, end = (datetime.fromisoformat(t) for t in staged["window"])
    with tempfile.NamedTemporaryFile(suffix=".csv") as local:
        digest = hashlib.sha256()
        with path.open("rb") as src:  # a local copy: the parser streams from a file
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                local.write(chunk)
        local.flush()
        with fail_fast("archive"):
            return archive_file(
                run, local.name, source=Source.monitoring(start, end, path.name, digest.hexdigest())
            )


# --- history import ---------------------------------------------------------------------------------
def import_history(params: dict | None, context: dict[str, Any]) -> dict[str, Any]:
    """``lineworks_history_import``'s first task: archive the chosen range (window by window), the
    imported file, or mark a range for rendering again."""
    from hooks.lineworks import DOWNLOAD_MAX_WINDOW, LineWorksHook
    from lineworks_salesforce.pipelines import Source, archive_file, history_request, mark_for_rerender
    from lineworks_salesforce.pipelines.history import ImportTotals, import_range

    cfg = settings()
    with fail_fast():  # the form first: a wrong one fails before anything runs; its error names the field
        request = history_request(
            params or {}, max_days=cfg.import_max_days, file_import_enabled=cfg.file_import_enabled
        )
    run = make_run(context, migrate=True)
    if request.mode == "rerender":
        marked = mark_for_rerender(run, request.first_day, request.last_day)
        log.info(
            "history import: %s – %s to render again with the current settings; %d hour(s) pending",
            request.first_day,
            request.last_day,
            marked["pending_hours"],
        )
        return {"rows": 0, "new_messages": 0, "quarantined": {}, "sources": [], **marked}
    with tempfile.TemporaryDirectory() as scratch, fail_fast("the imported data"):
        if request.mode == "range":
            hook = LineWorksHook(cfg.lineworks_conn_id)
            return import_range(
                run, hook, request.first_day, request.last_day, Path(scratch), DOWNLOAD_MAX_WINDOW
            )
        imported = fetch_import(cfg, request.file, Path(scratch))
        source = Source.file(imported.name, imported.sha256, triggered_by=_triggering_user(context))
        totals = ImportTotals()
        totals.add(archive_file(run, imported.local_path, source=source))
        log.info(
            "history import: file of %d bytes (sha256 %s) archived; %d rows, %d new",
            imported.size,
            imported.sha256,
            totals.rows,
            totals.new_messages,
        )
        return totals.summary()


def fetch_import(cfg, name: str, scratch: Path):
    """Copy file ``name`` of the import location into ``scratch``: a regular file inside the location
    (local folder or object storage), at most ``import_max_bytes``; its size and SHA-256."""
    from lineworks_salesforce.pipelines.file_import import (
        ImportedFile,
        copy_capped,
        import_name,
        is_object_storage,
        local_root,
        open_local,
    )
    from lineworks_salesforce.settings import import_root

    relative = import_name(name)
    location = import_root(cfg)
    local = scratch / "import.csv"
    if is_object_storage(location):
        from airflow.sdk import ObjectStoragePath

        size, sha = fetch_object(
            ObjectStoragePath(location.rstrip("/") + "/"), relative, cfg.import_max_bytes, local
        )
    else:
        with open_local(local_root(location), relative, cfg.import_max_bytes) as src:
            size, sha = copy_capped(src, local, cfg.import_max_bytes)
    return ImportedFile(str(relative), local, size, sha)


def fetch_object(root, relative, max_bytes: int, dest: Path) -> tuple[int, str]:
    """Copy ``root / relative`` (an :class:`ObjectStoragePath` prefix) into ``dest``: an object of at most
    ``max_bytes``, its size checked before the copy and while streaming."""
    from lineworks_salesforce.pipelines.file_import import ImportRefused, check_size, copy_capped

    path = root.joinpath(*relative.parts)
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ImportRefused("file", "no such file in the import location") from None
    except OSError as exc:  # no permission, ... (the message could name the object: only its kind)
        raise ImportRefused("file", f"the object cannot be read ({type(exc).__name__})") from None
    if info.get("type") != "file" or info.get("islink"):
        raise ImportRefused("file", "not a regular file")
    check_size(int(info.get("size") or 0), max_bytes)
    with path.open("rb") as src:
        return copy_capped(src, dest, max_bytes)


def _triggering_user(context: dict[str, Any]) -> str | None:
    dag_run = context.get("dag_run")
    return getattr(dag_run, "triggering_user_name", None)
