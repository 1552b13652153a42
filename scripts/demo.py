"""``make demo``: the whole path, end to end, against the local sandboxes.

1. Starts both sandboxes (real HTTPS servers in their own process) with a seeded Japanese demo company.
2. Checks the LINE WORKS connection with :class:`hooks.lineworks.LineWorksHook` and lists members and friends.
3. Registers most friends in Salesforce as 社外連絡先 (what the registration bot does), one left unregistered.
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
from sandbox.demo_org import register_friends, seed_reps  # noqa: E402
from sandbox.process import SandboxProcess  # noqa: E402

STATE_DIR = ROOT / ".sandbox" / "demo"
RUN_DATE = "2026-11-20T02:00:00+00:00"  # the run whose 2-hour look-back covers 09:00–11:00 JST


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
        seed_reps(sandbox.salesforce_control, members)

        # What the registration bot would do: most friends become 社外連絡先, one is not registered yet.
        plan = ["lead", "contact", "person", "none"]
        print("\nLINE friends and their registration in Salesforce (done by the bot in production):")
        for i, friend in enumerate(friends):
            how = "unregistered" if i == len(friends) - 1 else plan[i % len(plan)]
            if how != "unregistered":
                register_friends(sandbox.salesforce_control, [friend], how)
            label = {
                "lead": "社外連絡先 → リード",
                "contact": "社外連絡先 → 取引先責任者",
                "person": "社外連絡先 → 個人取引先",
                "none": "社外連絡先のみ",
                "unregistered": "未登録",
            }[how]
            print(f"  {_cut(friend['display'], 22)} friend of {_cut(names[friend['master']], 12)} {label}")

        create_pools(
            str(Path(sys.executable).parent / "airflow"), env
        )  # lineworks_monitoring, lineworks_salesforce
        print(f"\nairflow dags test lineworks_talk_logs {RUN_DATE} …", flush=True)
        run = subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), "dags", "test", "lineworks_talk_logs", RUN_DATE],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        output = run.stdout + run.stderr
        if run.returncode != 0:
            print(output[-6000:], file=sys.stderr)
            raise SystemExit("the DAG run failed")
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
                "ActivityDate, Description FROM Task ORDER BY ActivityKey__c"
            )
        )
        print(f"\nSalesforce Tasks ({len(tasks)}):")
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
            "\nThe last friend is not registered yet: its talks are archived and will be loaded by the first "
            "run after the rep registers it."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
