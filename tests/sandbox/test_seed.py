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
