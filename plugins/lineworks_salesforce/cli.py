"""The ``lineworks-salesforce`` command line (no Airflow needed).

``doctor FILE``               how a Monitoring CSV export parses: layout, counts, quarantine reasons with
                              the file lines to look at, and the file's SHA-256 (its provenance id)

``archive migrate``           create the archive or bring its schema up to date (versioned migrations)
``archive sources``           every download window and imported file the archive holds lines of
``archive lines --source S``  the lines imported file ``S`` (its SHA-256) delivered
``archive forget --source S`` remove them again; the hours they were in are rendered again by the next
                              run (``lineworks_talk_logs``, or ``lineworks_history_import`` in
                              ``rerender`` mode), and Tasks of hours left empty are deleted by it

``sandbox seed SCENARIO``     seed both running sandboxes (``make up``) from one scenario file: LINE WORKS
                              members, friends and talks, and the Salesforce users, 社外連絡先 and links
                              that go with them (docs/sandbox.md, "Scenario files")
``sandbox scenario FILE -o S`` write scenario ``S`` holding the members and LINE friends of export ``FILE``
``sandbox tasks``             list the Tasks the running Salesforce sandbox holds

``names search Q --rep R``    the 社外連絡先 search as the bot runs it for rep ``R`` (e-mail or LINE
                              WORKS user id): the ranked top 7 in the rep's folders, which field matched,
                              against the ``salesforce_default`` connection (``--conn-id`` for another)

The archive is ``--archive URL`` (SQLAlchemy URL), else ``$LINEWORKS_ARCHIVE_URL``, else the connection
``AIRFLOW_CONN_LINEWORKS_ARCHIVE`` when it is set in the environment (JSON form), else the SQLite file
``$AIRFLOW_HOME/lineworks_archive.db`` that the DAGs use without a connection.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

EXIT_USAGE = 2


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(out)
        return EXIT_USAGE
    try:
        return args.handler(args, out)
    except CliError as exc:
        print(f"lineworks-salesforce: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lineworks-salesforce", description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(title="commands")
    from lineworks_salesforce.talklog import doctor

    check = commands.add_parser(
        "doctor", help="how a Monitoring CSV export parses (prints its SHA-256; no cell of it)"
    )
    doctor.add_arguments(check).set_defaults(handler=lambda args, out: doctor.run(args))
    archive = commands.add_parser("archive", help="the archive database: sources, lines, forget")
    archive.add_argument("--archive", metavar="URL", help="SQLAlchemy URL of the archive database")
    sub = archive.add_subparsers(title="archive commands")

    migrate = sub.add_parser("migrate", help="bring the archive's schema up to date (each migration once)")
    migrate.set_defaults(handler=_migrate)

    sources = sub.add_parser("sources", help="list the download windows and imported files")
    sources.add_argument("--kind", choices=["file", "monitoring"], help="only sources of this kind")
    sources.add_argument("--json", action="store_true", help="one JSON object per line")
    sources.set_defaults(handler=_sources)

    lines = sub.add_parser("lines", help="list the lines an imported file delivered")
    lines.add_argument(
        "--source", required=True, metavar="SHA256", help="the file's SHA-256 (doctor prints it)"
    )
    lines.add_argument("--text", action="store_true", help="also print each message's text")
    lines.set_defaults(handler=_lines)

    forget = sub.add_parser("forget", help="remove the lines an imported file delivered")
    forget.add_argument("--source", required=True, metavar="SHA256", help="the file's SHA-256")
    forget.add_argument("--dry-run", action="store_true", help="say what would be removed, change nothing")
    forget.set_defaults(handler=_forget)

    sandbox = commands.add_parser("sandbox", help="the local sandboxes of a source checkout (make up)")
    sandbox_sub = sandbox.add_subparsers(title="sandbox commands")
    seed = sandbox_sub.add_parser("seed", help="seed both running sandboxes from one scenario file")
    seed.add_argument("scenario", help="a scenario file (.yaml, .yml, .json) or demo | test | bench")
    seed.add_argument("--seed", type=int, default=42, help="generator seed (demo | test | bench)")
    seed.add_argument("--no-reset", action="store_true", help="add to what the sandboxes hold")
    seed.set_defaults(handler=_sandbox_seed)
    scenario = sandbox_sub.add_parser(
        "scenario", help="write a scenario with the members and LINE friends of a Monitoring export"
    )
    scenario.add_argument("file", type=Path, help="a Monitoring CSV export (message contents)")
    scenario.add_argument("-o", "--output", type=Path, required=True, help="the scenario file to write")
    scenario.set_defaults(handler=_sandbox_scenario)
    tasks = sandbox_sub.add_parser("tasks", help="list the Tasks the running Salesforce sandbox holds")
    tasks.add_argument("--limit", type=int, default=50, help="at most this many (newest first)")
    for command in (seed, tasks):
        command.add_argument(
            "--state-dir",
            type=Path,
            help="the sandboxes' state folder ($LINEWORKS_SANDBOX_STATE_DIR, else <checkout>/.sandbox)",
        )
    tasks.set_defaults(handler=_sandbox_tasks)

    names = commands.add_parser("names", help="the 社外連絡先 name search (as the bot runs it)")
    names_sub = names.add_subparsers(title="names commands")
    find = names_sub.add_parser("search", help="the ranked top 7 for a rep, against Salesforce")
    find.add_argument("query", help="what the rep types (a name, kana or romaji)")
    find.add_argument("--rep", required=True, help="the rep's e-mail or LINE WORKS user id")
    find.add_argument("--conn-id", default="salesforce_default", help="the Salesforce connection")
    find.set_defaults(handler=_names_search)
    return parser


def _migrate(args: argparse.Namespace, out: TextIO) -> int:
    from lineworks_salesforce.archive import Archive

    try:
        before, after = Archive(archive_url_from(args.archive, os.environ, must_exist=False)).migrate()
    except ValueError as exc:  # ArchiveSchemaError: newer than this code
        raise CliError(str(exc)) from None
    state = "already current" if before == after else f"migrated from version {before}"
    print(f"archive schema version {after} ({state})", file=out)
    return 0


def _names_search(args: argparse.Namespace, out: TextIO) -> int:
    from lineworks_salesforce.names import NameQueryError, RepNotFound, find_rep, search

    _plugins_on_path()
    from hooks.salesforce import SalesforceActivityHook

    salesforce = SalesforceActivityHook(args.conn_id)
    try:
        rep = find_rep(args.rep, salesforce)
        found = search(args.query, rep["Id"], salesforce)
    except (NameQueryError, RepNotFound) as exc:
        raise CliError(str(exc)) from None
    print(f"{len(found)} candidates (rep {rep['Name']}, {rep['Id']}; folders the rep owns)", file=out)
    for i, c in enumerate(found, 1):
        linked = "  [linked to a LINE friend]" if c.contact_id else ""
        print(
            f"{i}. {c.id}  {c.name}  {c.kana or '—'}  {c.company or '—'}  {c.folder or '—'}"
            f"  ({c.field}: {c.how}){linked}",
            file=out,
        )
    return 0


def _plugins_on_path() -> None:
    """``hooks`` importable: Airflow's plugins folder, or the source checkout's."""
    folder = os.environ.get("AIRFLOW__CORE__PLUGINS_FOLDER") or str(Path(__file__).resolve().parents[1])
    if folder not in sys.path:
        sys.path.insert(0, folder)


def _checkout() -> Path:
    """The source checkout holding ``sandbox/``, put on ``sys.path`` (with ``plugins/`` for the hooks)."""
    checkout = Path(__file__).resolve().parents[2]
    if not (checkout / "sandbox" / "seed.py").is_file():
        raise CliError("the sandboxes ship with the source checkout; run this command from one")
    for path in (str(checkout), str(checkout / "plugins")):
        if path not in sys.path:
            sys.path.insert(0, path)
    return checkout


def _sandbox_seed(args: argparse.Namespace, out: TextIO) -> int:
    checkout = _checkout()
    from sandbox.seed import ScenarioError, default_state_dir, seed_running

    try:
        result = seed_running(
            args.state_dir or default_state_dir(checkout),
            args.scenario,
            seed=args.seed,
            reset=not args.no_reset,
        )
    except ScenarioError as exc:
        raise CliError(str(exc)) from None
    lw, sf = result["lineworks"], result["salesforce"]
    print(
        f"LINE WORKS sandbox: Domain ID {result['domainId']}, {lw['users']} members, "
        f"{lw['contacts']} contacts, {lw['rooms']} rooms, {lw['messages']} messages",
        file=out,
    )
    print(
        f"Salesforce sandbox: {sf['users']} users for members, {sf['externalContacts']} 社外連絡先 "
        f"({', '.join(f'{k} {v}' for k, v in sorted(sf.items()) if k not in ('users', 'externalContacts'))})",
        file=out,
    )
    return 0


def _sandbox_scenario(args: argparse.Namespace, out: TextIO) -> int:
    _checkout()
    import yaml

    from sandbox.from_export import scenario_from_export

    if not args.file.is_file():
        raise CliError(f"{args.file}: no such file")
    try:
        spec = scenario_from_export(args.file)
    except ValueError as exc:  # the parser's errors name positions and reasons, never a cell
        raise CliError(f"{args.file}: {exc}") from None
    args.output.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    print(
        f"{args.output}: {len(spec['users'])} members, {len(spec['contacts'])} LINE friend contacts"
        " (one per member a LINE user talked with), all 社外連絡先 linked to a Contact",
        file=out,
    )
    return 0


def _sandbox_tasks(args: argparse.Namespace, out: TextIO) -> int:
    checkout = _checkout()
    from sandbox.seed import ScenarioError, default_state_dir, salesforce_tasks

    try:
        tasks = salesforce_tasks(args.state_dir or default_state_dir(checkout), args.limit)
    except ScenarioError as exc:
        raise CliError(str(exc)) from None
    print(f"Salesforce Tasks (newest first, at most {args.limit}): {len(tasks)}", file=out)
    for task in tasks:
        names = {k: (task.get(k) or {}).get("Name") or "—" for k in ("Who", "What", "Owner")}
        print(
            f"  {task['ActivityDate']}  {task['Subject']}  {int(task['MessageCount__c'] or 0)} messages"
            f"  owner {names['Owner']} · who {names['Who']} · what {names['What']}",
            file=out,
        )
    return 0


def _sources(args: argparse.Namespace, out: TextIO) -> int:
    from lineworks_salesforce.pipelines import list_sources

    rows = list_sources(_archive(args), args.kind)
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False, default=str), file=out)
        return 0
    print(f"{len(rows)} source(s)", file=out)
    for r in rows:
        if r["kind"] == "file":
            what = f"file {r['name']} sha256 {r['sha256']} by {r['triggered_by'] or '-'}"
        else:
            what = f"monitoring {r['window_start']} – {r['window_end']}"
        print(
            f"{r['archived_at']}  {what}  run {r['run_id']}: {r['messages']} message(s) first seen here,"
            f" {r['file_lines']} line(s) of the file, {r['quarantined']} quarantined",
            file=out,
        )
    return 0


def _lines(args: argparse.Namespace, out: TextIO) -> int:
    from lineworks_salesforce.pipelines import source_lines

    archive = _archive(args)
    source = _source(archive, args.source)
    rows = source_lines(archive, source["source_id"])
    print(f"{len(rows)} line(s) from file {source['name']} (sha256 {source['sha256']})", file=out)
    for r in rows:
        mark = "" if r["own"] else "  (also from another source: kept by forget)"
        line = (
            f"{r['sent_at']}  {r['message_key']}  channel {r['channel_id'] or '-'}  {r['sender_kind']}"
            f" {r['sender_name']}  {r['content_kind']}  {len(r['body'])} characters{mark}"
        )
        print(line, file=out)
        if args.text:
            print("    " + r["body"].replace("\n", "\n    "), file=out)
    return 0


def _forget(args: argparse.Namespace, out: TextIO) -> int:
    from lineworks_salesforce.pipelines import forget_source, source_lines

    archive = _archive(args)
    source = _source(archive, args.source)
    if args.dry_run:
        rows = source_lines(archive, source["source_id"])
        own = sum(1 for r in rows if r["own"])
        print(
            f"would remove {own} message(s) of file {source['name']} ({len(rows) - own} kept: also from"
            f" another source) and {source['quarantined']} quarantined row(s)",
            file=out,
        )
        return 0
    done = forget_source(archive, source["source_id"], run_id=f"cli-forget-{source['sha256'][:12]}")
    print(
        f"forgot file {source['name']} (sha256 {source['sha256']}): {done['messages_removed']} message(s)"
        f" and {done['quarantined_removed']} quarantined row(s) removed; {done['hours_rerendered']} hour(s)"
        f" to render again and {done['tasks_to_delete']} Task(s) to delete on the next run"
        " (lineworks_talk_logs, or lineworks_history_import in rerender mode)",
        file=out,
    )
    return 0


def _source(archive: Any, sha: str) -> dict[str, Any]:
    from lineworks_salesforce.pipelines import find_source

    try:
        return find_source(archive, sha)
    except (ValueError, LookupError) as exc:
        raise CliError(str(exc)) from None


def _archive(args: argparse.Namespace):
    from lineworks_salesforce.archive import Archive

    archive = Archive(archive_url_from(args.archive, os.environ))
    try:
        archive.check_schema()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return archive


def archive_url_from(option: str | None, env: dict[str, str] | os._Environ, must_exist: bool = True) -> str:
    """Where the archive is: the option, ``LINEWORKS_ARCHIVE_URL``, the Airflow connection in the
    environment, or the default SQLite file (which must exist)."""
    from lineworks_salesforce.archive import archive_url

    if option:
        return option
    if env.get("LINEWORKS_ARCHIVE_URL"):
        return env["LINEWORKS_ARCHIVE_URL"]
    conn = env.get("AIRFLOW_CONN_LINEWORKS_ARCHIVE")
    if conn:
        try:
            fields = json.loads(conn)
            if not isinstance(fields, dict):
                raise ValueError
        except ValueError:
            raise CliError(
                "AIRFLOW_CONN_LINEWORKS_ARCHIVE is not in JSON form; pass --archive URL instead"
            ) from None
        try:
            return archive_url(
                str(fields.get("conn_type") or ""),
                fields.get("host"),
                fields.get("login"),
                fields.get("password"),
                fields.get("port"),
                fields.get("schema"),
            )
        except ValueError as exc:
            raise CliError(f"AIRFLOW_CONN_LINEWORKS_ARCHIVE: {exc}") from None
    from lineworks_salesforce.settings import airflow_home

    path = Path(airflow_home(env)) / "lineworks_archive.db"
    if must_exist and not path.exists():
        raise CliError(f"no archive at {path}; pass --archive URL (or set AIRFLOW_HOME)")
    return f"sqlite:///{path}"
