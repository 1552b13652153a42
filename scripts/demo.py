"""``make demo``: the whole path, end to end, against the local sandboxes.

1. Starts both sandboxes (real HTTPS servers in their own process) with a seeded Japanese demo company.
2. Checks the LINE WORKS connection with :class:`hooks.lineworks.LineWorksHook` and lists members and friends.
3. Runs ``lineworks_friends`` (``airflow dags test``): the bot asks each rep about each LINE friend; the reps'
   answers (新規登録, 既存の社外連絡先に紐づけ → a name → a candidate, 対象外) go to the bot's callback app as
   signed callbacks; then the Salesforce admin links some 社外連絡先 to a Lead, Contact or person Account.
4. Runs ``lineworks_talk_logs`` with ``airflow dags test`` for the demo hours — the same DAG and code as
   production; only the Airflow connections point at the sandboxes.
5. Prints the Tasks it made in Salesforce.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from lineworks_salesforce.pools import create_pools  # noqa: E402
from sandbox.__main__ import scenario_spec  # noqa: E402
from sandbox.credentials import ensure_credentials, ensure_salesforce_credentials  # noqa: E402
from sandbox.demo_org import seed_reps, serve_reps  # noqa: E402
from sandbox.process import SandboxProcess  # noqa: E402

STATE_DIR = ROOT / ".sandbox" / "demo"
RUN_DATE = "2026-11-20T02:00:00+00:00"  # the run whose 2-hour look-back covers 09:00–11:00 JST
AIRFLOW = Path(sys.executable).parent / "airflow"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cut(text: str, width: int) -> str:
    text = text.replace("\n", "⏎")
    out = ""
    for c in text:
        if _width(out + c) > width - 2:
            return out + "… " + " " * (width - 2 - _width(out))
        out += c
    return out + " " * (width - _width(out))


def airflow_dags_test(dag_id: str, env: dict[str, str]) -> str:
    """``airflow dags test DAG RUN_DATE``: its output, or SystemExit with the end of it."""
    print(f"airflow dags test {dag_id} {RUN_DATE} …", flush=True)
    run = subprocess.run(
        [str(AIRFLOW), "dags", "test", dag_id, RUN_DATE],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = run.stdout + run.stderr
    if run.returncode != 0:
        print(output[-6000:], file=sys.stderr)
        raise SystemExit(f"the {dag_id} run failed")
    return output


def register_by_bot(sandbox, creds, env, friends, names, reps) -> None:
    """The registration bot's part of the demo (scripts/demo_bot.py)."""
    from demo_bot import ADMIN_LABELS, ADMIN_LINKS, LINK_FRIEND, answer, label, said_to, serve_callback_app

    from hooks.salesforce import SalesforceActivityHook
    from lineworks_salesforce.archive import Archive
    from sandbox.common.tls import ensure_tls

    archive = Archive(f"sqlite:///{STATE_DIR / 'archive.db'}")
    archive.migrate()
    server = serve_callback_app(ensure_tls(STATE_DIR), archive, str(creds.bot_id), creds.bot_secret)
    control, bot = sandbox.control, str(creds.bot_id)
    control.configure(callback_ca_bundle=sandbox.ca_bundle)
    control.call("POST", "/bots", creds.bot_spec(server.url + "/callback"))
    salesforce = SalesforceActivityHook()
    # a business card a rep scanned before: the 社外連絡先 that 既存の社外連絡先に紐づけ will find by name
    card = friends[LINK_FRIEND]
    folder = salesforce.create_record(
        "PhonebookFolder__c", {"Name": "名刺", "Type__c": "Personal", "OwnerId": reps[card["master"]]}
    )
    salesforce.create_record(
        "ExternalContact__c", {"Name": f"{card['display']}（名刺より）", "Folder__c": folder}
    )

    airflow_dags_test("lineworks_friends", env)
    print("\nThe bot asked each rep about their LINE friends, and the reps answered:")
    for i, friend in enumerate(friends):
        rep, cid = friend["master"], friend["contactId"]
        action = "ignore" if i == len(friends) - 1 else "link" if i == LINK_FRIEND else "new"
        prompts = [c for c in said_to(control, bot, rep) if cid in str(c.get("actions", ""))]
        print(f"  {_cut(names[rep], 12)} ← bot: {_cut(label(prompts[0]) if prompts else '(no prompt)', 96)}")
        if action == "link":
            print(f"  {_cut(names[rep], 12)} → 既存の社外連絡先に紐づけ")
            (reply,) = answer(
                control,
                bot,
                rep,
                {"type": "message", "text": "既存の社外連絡先に紐づけ", "postback": f"lwsf:link:{cid}"},
            )
            print(f"  {'':12} ← bot: {label(reply)}")
            print(f"  {_cut(names[rep], 12)} → {friend['display']}")
            intro, carousel = answer(
                control, bot, rep, {"type": "message", "text": friend["display"]}, replies=2
            )
            print(f"  {'':12} ← bot: {label(intro)}\n  {'':12} ← bot: {label(carousel)}")
            pick = carousel["columns"][0]["actions"][0]["data"]
            print(f"  {_cut(names[rep], 12)} → {carousel['columns'][0]['title']}")
            (reply,) = answer(control, bot, rep, {"type": "postback", "data": pick})
        else:
            tapped = {"new": "新規登録", "ignore": "対象外"}[action]
            print(f"  {_cut(names[rep], 12)} → {tapped}")
            (reply,) = answer(
                control, bot, rep, {"type": "message", "text": tapped, "postback": f"lwsf:{action}:{cid}"}
            )
        print(f"  {'':12} ← bot: {label(reply)}")
    server.stop()

    # 取引先連携, as the Salesforce admin does it: some 社外連絡先 linked to a Lead, Contact or person Account
    from lineworks_salesforce.salesforce_model.soql import soql

    records = list(
        salesforce.query_records(
            soql(
                "SELECT Id, Name FROM ExternalContact__c WHERE LineWorksContactId__c IN {ids} ORDER BY Name",
                ids=[f["contactId"] for f in friends],
            )
        )
    )
    print("\n取引先連携 by the Salesforce admin:")
    for record, how in zip(records, ADMIN_LINKS * len(records)):
        name = record["Name"][:80]
        if how == "lead":
            values = {
                "Lead__c": salesforce.create_record(
                    "Lead", {"LastName": name, "Company": "（LINE WORKSから登録）"}
                )
            }
        elif how == "contact":
            values = {"Contact__c": salesforce.create_record("Contact", {"LastName": name})}
        elif how == "person":
            values = {"Account__c": salesforce.create_record("Account", {"LastName": name})}
        else:
            values = {}
        if values:
            salesforce.update_record("ExternalContact__c", record["Id"], values)
        shown = ADMIN_LABELS[how]
        print(f"  {_cut(name, 26)} → {shown}")


def main() -> int:
    creds = ensure_credentials(STATE_DIR)
    sf_creds = ensure_salesforce_credentials(STATE_DIR)
    with SandboxProcess(STATE_DIR) as sandbox:
        sandbox.control.reset()
        stats = sandbox.control.seed(scenario_spec("demo", 42, creds))
        rows, domain_id = stats["rows"], str(stats["domainId"])
        sandbox.salesforce_control.reset()
        sandbox.salesforce_control.seed(sf_creds.seed_spec())
        print(
            f"LINE WORKS sandbox {sandbox.url} · Salesforce sandbox {sandbox.salesforce_url} "
            f"(TLS from a local CA: {Path(sandbox.ca_bundle).relative_to(ROOT)})"
        )
        print(
            f"demo company: {rows['users']} members, {rows['contacts']} LINE friends, {rows['rooms']} rooms, "
            f"{rows['messages']} messages on 2026-11-20 09:00–11:00 JST\n"
        )

        env = {
            **os.environ,
            "AIRFLOW_CONN_LINEWORKS_DEFAULT": json.dumps(
                creds.connection(sandbox.url, sandbox.ca_bundle, domain_id=domain_id)
            ),
            "AIRFLOW_CONN_SALESFORCE_DEFAULT": json.dumps(
                sf_creds.connection(sandbox.salesforce_url, sandbox.ca_bundle, bulk_poll_interval=0.5)
            ),
            "AIRFLOW_CONN_LINEWORKS_ARCHIVE": json.dumps(
                {"conn_type": "sqlite", "host": str(STATE_DIR / "archive.db")}
            ),
            "LINEWORKS_STAGING_URL": f"file://{ROOT / '.staging' / 'demo'}",
        }
        (STATE_DIR / "archive.db").unlink(missing_ok=True)
        os.environ.update({k: v for k, v in env.items() if k.startswith("AIRFLOW_CONN_")})
        from hooks.lineworks import LineWorksHook
        from hooks.salesforce import SalesforceActivityHook

        lineworks = LineWorksHook()
        ok, message = lineworks.test_connection()
        print(f"LINE WORKS test_connection: {ok} — {message}")
        members = list(lineworks.list_users())
        friends = [
            {
                "contactId": f["contactId"],
                "display": f["contactName"]["lastName"] + f["contactName"]["firstName"],
                "master": f["linkedExternalUser"]["buddyUserIds"][0],
            }
            for f in lineworks.list_friends()
        ]
        names = {m["userId"]: f"{m['userName']['lastName']} {m['userName']['firstName']}" for m in members}
        reps = seed_reps(sandbox.salesforce_control, members)
        serve_reps(sandbox.salesforce_control, list(reps.values()))
        create_pools(str(AIRFLOW), env)  # lineworks_monitoring, lineworks_salesforce
        register_by_bot(sandbox, creds, env, friends, names, reps)

        print()
        output = airflow_dags_test("lineworks_talk_logs", env)
        summary = next(
            (
                line.split("summary: ", 1)[1].split(" [airflow", 1)[0]
                for line in output.splitlines()
                if "lineworks_talk_logs summary: " in line
            ),
            "(no summary line)",
        )
        print(f"run summary: {summary}")

        salesforce = SalesforceActivityHook()
        tasks = list(
            salesforce.query_records(
                "SELECT ActivityKey__c, Subject, Who.Name, What.Name, Owner.Name, MessageCount__c, "
                "ActivityDate, Description FROM Task WHERE ActivityKey__c != null ORDER BY ActivityKey__c"
            )
        )
        exchanges = list(salesforce.query_records("SELECT Subject FROM Task WHERE ActivityKey__c = null"))
        print(f"\nSalesforce: {len(exchanges)} exchange Tasks from the bot (「〇〇さんがLINE WORKS交換」)")
        print(f"Salesforce Tasks of the talk logs ({len(tasks)}):")
        for task in tasks:
            who = (task.get("Who") or {}).get("Name") or "—"
            what = (task.get("What") or {}).get("Name") or "—"
            owner = (task.get("Owner") or {}).get("Name") or "—"
            count = int(task["MessageCount__c"])
            print(
                f"  {task['ActivityKey__c'][-24:]}  {task['Subject']}  {task['ActivityDate']}  "
                f"{count} message{'' if count == 1 else 's'}  owner {owner} · who {who} · what {what}"
            )
            for line in task["Description"].splitlines()[:3]:
                print(f"      {_cut(line, 90)}")
        print(
            "\nThe last friend is 対象外 (the rep said so): its talks stay in the archive, not in Salesforce."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
