"""``lineworks-salesforce sandbox seed SCENARIO``: one scenario file seeds both running sandboxes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from lineworks_salesforce.cli import main

ROOT = Path(__file__).resolve().parents[2]
SHARED_FRIEND = ROOT / "sandbox" / "scenarios" / "shared-friend.yaml"


def _seed(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["sandbox", "seed", *args], out=out), out.getvalue()


def test_should_seed_two_members_sharing_one_line_friend_into_both_sandboxes(
    state_dir, lineworks_sandbox, salesforce_sandbox
):
    code, printed = _seed(str(SHARED_FRIEND), "--state-dir", str(state_dir))
    assert code == 0
    assert "Domain ID 10000001, 2 members, 3 contacts" in printed

    friends = {f["contactId"]: f for f in lineworks_sandbox.control.directory()["friends"]}
    tanaka, matsuyama = friends["c-hanako-tanaka"], friends["c-hanako-matsuyama"]
    assert tanaka["externalUserId"] == matsuyama["externalUserId"] == "U-hanako"  # one LINE user
    assert (tanaka["buddyUserIds"], matsuyama["buddyUserIds"]) == (["u-tanaka"], ["u-matsuyama"])
    assert friends["c-sato"]["buddyUserIds"] == ["u-tanaka", "u-matsuyama"]

    sf = salesforce_sandbox.simple_salesforce()
    users = {r["Email"] for r in sf.query("SELECT Email FROM User")["records"]}
    assert {"tanaka@sandbox.example.com", "matsuyama@sandbox.example.com"} <= users
    contacts = {
        r["LineWorksContactId__c"]: r
        for r in sf.query("SELECT LineWorksContactId__c, Contact__c, Lead__c FROM ExternalContact__c")[
            "records"
        ]
    }
    assert set(contacts) == {"c-hanako-tanaka", "c-hanako-matsuyama", "c-sato"}
    assert contacts["c-hanako-tanaka"]["Contact__c"] and contacts["c-hanako-matsuyama"]["Contact__c"]
    assert contacts["c-hanako-tanaka"]["Contact__c"] != contacts["c-hanako-matsuyama"]["Contact__c"]
    assert contacts["c-sato"]["Lead__c"] and not contacts["c-sato"]["Contact__c"]


def test_should_keep_the_running_domain_id_when_the_scenario_names_none(
    tmp_path, state_dir, lineworks_sandbox, salesforce_sandbox
):
    lineworks_sandbox.control.seed({"domainId": 40012300})
    scenario = tmp_path / "mine.json"
    scenario.write_text(json.dumps({"users": [{"userId": "u1", "email": "u1@example.com"}]}))
    code, printed = _seed(str(scenario), "--state-dir", str(state_dir))
    assert code == 0 and "Domain ID 40012300, 1 members" in printed
    assert "1 users for members, 0 社外連絡先" in printed


def test_should_add_to_the_sandboxes_with_no_reset(
    tmp_path, state_dir, lineworks_sandbox, salesforce_sandbox
):
    assert _seed(str(SHARED_FRIEND), "--state-dir", str(state_dir))[0] == 0
    more = tmp_path / "more.yaml"
    more.write_text(
        "users:\n  - {userId: u-new, email: new@example.com, userName: {lastName: 新人}}\n"
        "salesforce: {users: [u-new]}\n",
        encoding="utf-8",
    )
    code, printed = _seed(str(more), "--state-dir", str(state_dir), "--no-reset")
    assert code == 0 and "3 members, 3 contacts" in printed
    assert "1 users for members" in printed and "ExternalContact__c 3" in printed


@pytest.mark.parametrize(
    ("salesforce", "named"),
    [
        ({"usres": "members"}, "unknown keys in salesforce: 'usres'"),
        ({"users": 3}, "salesforce.users must be"),
        (
            {"externalContacts": [{"contactId": "c-nobody", "link": "contact"}]},
            "externalContacts[0].contactId",
        ),
        (
            {"externalContacts": [{"contactId": "c-sato", "link": "opportunity"}]},
            "externalContacts[0]: the link",
        ),
        ({"users": ["u-ghost"]}, "salesforce.users names a userId"),
    ],
)
def test_should_refuse_a_bad_salesforce_section_naming_the_field(
    tmp_path, state_dir, lineworks_sandbox, salesforce_sandbox, capsys, salesforce, named
):
    scenario = tmp_path / "bad.json"
    scenario.write_text(
        json.dumps(
            {
                "users": [{"userId": "u-secret-value", "email": "hidden@example.com"}],
                "contacts": [{"contact": {"contactId": "c-sato", "linkedExternalUser": {"id": "U1"}}}],
                "salesforce": salesforce,
            }
        )
    )
    code, _ = _seed(str(scenario), "--state-dir", str(state_dir))
    err = capsys.readouterr().err
    assert code == 2 and named in err
    assert "u-secret-value" not in err and "hidden@example.com" not in err and "opportunity" not in err


def test_should_say_how_to_start_a_sandbox_when_none_runs(tmp_path, capsys):
    code, _ = _seed(str(SHARED_FRIEND), "--state-dir", str(tmp_path / "nothing"))
    assert code == 2 and "no running sandbox found" in capsys.readouterr().err


def test_should_refuse_a_file_that_is_not_a_scenario_without_quoting_it(tmp_path, state_dir, capsys):
    scenario = tmp_path / "broken.json"
    scenario.write_text('{"users": [ "顧客の秘密"', encoding="utf-8")
    code, _ = _seed(str(scenario), "--state-dir", str(state_dir))
    err = capsys.readouterr().err
    assert code == 2 and "not a JSON or YAML scenario" in err and "顧客の秘密" not in err


def test_should_refuse_an_unknown_name(state_dir, capsys):
    code, _ = _seed("nonexistent.yaml", "--state-dir", str(state_dir))
    assert code == 2 and "no such file (or a generator size" in capsys.readouterr().err


def test_should_give_each_rep_their_own_task_for_a_group_talk_with_a_shared_friend(
    tmp_path, state_dir, lineworks_sandbox, lineworks_conn, salesforce_sandbox, salesforce_conn
):
    """The seed's own example (Q24): one LINE user, a friend of two reps, talks in a 1:1 room with one and
    in a group room with both: each rep's 社外連絡先 gets its Task for the hour, owned by that rep."""
    from datetime import datetime, timezone

    from hooks.activity_loader import ActivityLoader
    from hooks.lineworks import LineWorksHook
    from hooks.salesforce import SalesforceActivityHook
    from lineworks_salesforce.archive import Archive
    from lineworks_salesforce.pipelines import (
        Run,
        Source,
        archive_file,
        build,
        load,
        refresh_directory,
        resolve,
    )
    from lineworks_salesforce.settings import load_settings

    assert _seed(str(SHARED_FRIEND), "--state-dir", str(state_dir))[0] == 0
    lineworks_conn(domain_id="10000001")
    salesforce_conn(backoff_base=0.01, backoff_max=0.05, bulk_poll_interval=0.05)
    start, end = (
        datetime(2026, 11, 20, 0, tzinfo=timezone.utc),
        datetime(2026, 11, 20, 3, tzinfo=timezone.utc),
    )
    export = tmp_path / "download.csv"
    LineWorksHook().download_message_contents(start, end, export)
    archive = Archive(f"sqlite:///{tmp_path / 'archive.db'}")
    archive.migrate()
    run = Run(archive, load_settings(), "scheduled", "10000001")
    archive_file(run, export, source=Source.monitoring(start, end, export.name, "0" * 64))
    refresh_directory(run, LineWorksHook())
    resolved = resolve(run)
    assert resolved["issues"] == {}
    build(run, SalesforceActivityHook())
    assert load(run, ActivityLoader(SalesforceActivityHook()))["created"] == 2

    sf = salesforce_sandbox.simple_salesforce()
    owner_of = {
        r["Contact__c"]: r["LineWorksContactId__c"]
        for r in sf.query("SELECT Contact__c, LineWorksContactId__c FROM ExternalContact__c")["records"]
    }
    tasks = sf.query("SELECT WhoId, Owner.Email, MessageCount__c FROM Task")["records"]
    got = sorted((owner_of[t["WhoId"]], t["Owner"]["Email"], int(t["MessageCount__c"])) for t in tasks)
    assert got == [
        ("c-hanako-matsuyama", "matsuyama@sandbox.example.com", 1),  # the group talk
        ("c-hanako-tanaka", "tanaka@sandbox.example.com", 3),  # the 1:1 talk and the group talk
    ]
