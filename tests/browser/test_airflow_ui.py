"""The Airflow UI as a user meets it under ``make up``: the history-import form and the connection form.

Each test writes screenshots under the output folder (see conftest.py) for a person to look at.
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import unquote

import pytest

from lineworks_salesforce.provider import CONN_FIELDS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
DAG = "lineworks_history_import"
CJK_FONT = re.compile(r"CJK|JP|Japan|Gothic|Mincho|IPA|Takao", re.I)


def _open_trigger_form(page, up):
    page.goto(f"{up.airflow_url}/dags/{DAG}")
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Run Parameters").wait_for()
    return dialog


def _choose(page, dialog, value: str) -> None:
    """Pick ``value`` in the form's first select (the mode), as a user does: click, type, Enter."""
    dialog.get_by_role("combobox").first.click(force=True)
    page.keyboard.type(value)
    page.get_by_role("option", name=value, exact=True).wait_for()
    page.keyboard.press("Enter")


def _triggered_run(page) -> str:
    page.wait_for_url(re.compile(rf"/dags/{DAG}/runs/"))
    return unquote(page.url.split("/runs/", 1)[1].split("/", 1)[0])


def _wait_for_run(up, run_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = up.api.get(f"{up.airflow_url}/api/v2/dags/{DAG}/dagRuns/{run_id}", timeout=10).json()
        if run["state"] in ("success", "failed") or time.monotonic() > deadline:
            return run
        time.sleep(3)


def _task(up, run_id: str, task_id: str) -> dict:
    tasks = up.api.get(f"{up.airflow_url}/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances", timeout=10)
    return next(t for t in tasks.json()["task_instances"] if t["task_id"] == task_id)


def _rendered_fonts(page, text: str) -> list[str]:
    """The fonts Chromium used to draw the element showing ``text`` (CSS.getPlatformFontsForNode)."""
    found = page.evaluate(
        """(text) => {
            const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            while (walk.nextNode()) {
                if (walk.currentNode.textContent.includes(text)) {
                    walk.currentNode.parentElement.setAttribute('data-font-probe', '1');
                    return true;
                }
            }
            return false;
        }""",
        text,
    )
    assert found, f"no element shows {text!r}"
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "[data-font-probe]"})["nodeId"]
    return [f["familyName"] for f in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]]


def test_should_trigger_the_history_import_with_the_defaults_in_range_mode(page, airflow_up, output_dir):
    dialog = _open_trigger_form(page, airflow_up)
    assert dialog.locator("input[name=element_mode]").input_value() == "range"
    assert dialog.locator("#element_start").input_value() == "2026-06-01"
    assert "取り込み場所" in dialog.inner_text() and str(airflow_up.home / "imports") in dialog.inner_text()
    trigger = dialog.get_by_role("button", name="Trigger")
    page.screenshot(path=output_dir / "history-form-range.png", full_page=True)
    assert trigger.is_enabled()
    fonts = _rendered_fonts(page, "取り込み方法")
    assert any(CJK_FONT.search(f) for f in fonts), f"Japanese drawn without a CJK font: {fonts}"

    trigger.click()
    run_id = _triggered_run(page)
    run = _wait_for_run(airflow_up, run_id)
    page.screenshot(path=output_dir / "history-run-range.png", full_page=True)
    assert run["conf"] == {"mode": "range", "start": "2026-06-01", "end": "2026-06-30", "file": None}
    assert run["state"] == "success", [
        _task(airflow_up, run_id, t)["state"] for t in ("import_history", "load")
    ]


def test_should_refuse_file_mode_without_a_file_at_once_naming_the_field(page, airflow_up, output_dir):
    dialog = _open_trigger_form(page, airflow_up)
    _choose(page, dialog, "file")
    dialog.locator("#element_start").fill("")
    dialog.locator("#element_end").fill("")
    page.screenshot(path=output_dir / "history-form-file-empty.png", full_page=True)
    dialog.get_by_role("button", name="Trigger").click()
    run_id = _triggered_run(page)
    run = _wait_for_run(airflow_up, run_id)
    assert run["state"] == "failed"
    first = _task(airflow_up, run_id, "import_history")
    assert (first["state"], first["try_number"]) == ("failed", 1)  # no retry: a form error
    assert _task(airflow_up, run_id, "resolve")["state"] == "upstream_failed"

    log = airflow_up.api.get(
        f"{airflow_up.airflow_url}/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances/import_history/logs/1",
        headers={"Accept": "application/json"},
        timeout=10,
    ).json()["content"]
    failure = next(e for e in log if isinstance(e, dict) and e.get("error_detail"))
    reason = failure["error_detail"][0]["exc_value"].splitlines()[0]
    assert "file: mode 'file' needs the name of a CSV file" in reason and len(reason) <= 200

    page.goto(f"{airflow_up.airflow_url}/dags/{DAG}/runs/{run_id}/tasks/import_history")
    page.get_by_text("needs the name of a CSV file").first.wait_for()
    page.screenshot(path=output_dir / "history-file-empty-task-log.png", full_page=True)


def test_should_refuse_a_five_digit_year_in_the_form(page, airflow_up, output_dir):
    dialog = _open_trigger_form(page, airflow_up)
    dialog.locator("#element_start").click()
    page.keyboard.type("12045202")  # mm dd yyyy…: the year becomes 5202, then a fifth digit is refused
    dialog.get_by_role("button", name="Trigger").click()
    dialog.get_by_text("Invalid input for param start").wait_for()
    page.screenshot(path=output_dir / "history-form-bad-year.png", full_page=True)
    runs = airflow_up.api.get(f"{airflow_up.airflow_url}/api/v2/dags/{DAG}/dagRuns", timeout=10).json()
    assert not any(str((r["conf"] or {}).get("start") or "").startswith("5202") for r in runs["dag_runs"])


def test_should_explain_every_connection_field_and_test_against_the_sandbox(page, airflow_up, output_dir):
    page.goto(f"{airflow_up.airflow_url}/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("combobox").first.click(force=True)
    page.keyboard.type("LINE WORKS")
    page.get_by_role("option", name="LINE WORKS").wait_for()
    page.keyboard.press("Enter")
    dialog.get_by_role("button", name="Extra Fields", exact=True).click()
    text = dialog.inner_text()
    for name, field in CONN_FIELDS.items():
        assert field["label"] in text and field["description"] in text, name
        assert dialog.locator(f"#element_{name}").is_visible(), name
    for name in ("api_base_url", "auth_url", "scopes"):  # the documented defaults, as values
        assert dialog.locator(f"#element_{name}").input_value() == CONN_FIELDS[name]["schema"]["default"]
    page.screenshot(path=output_dir / "connection-form.png", full_page=True)
    fonts = _rendered_fonts(page, "必須。LINE WORKS のテナント")
    assert any(CJK_FONT.search(f) for f in fonts), f"Japanese drawn without a CJK font: {fonts}"

    state = airflow_up.home.parent / "sandbox"
    creds = json.loads((state / "credentials" / "lineworks.json").read_text())
    domain_id = re.search(r"\(Domain ID (\d+)\)", airflow_up.printed()).group(1)
    base = f"https://localhost:{airflow_up.lineworks_port}"
    dialog.locator("input").first.fill("lineworks_ui_test")
    values = {
        "domain_id": domain_id,
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
        "service_account": creds["service_account"],
        "private_key": creds["private_key"],
        "api_base_url": f"{base}/v1.0",
        "auth_url": f"{base}/oauth2/v2.0/token",
        "ca_bundle": str(state / "tls" / "ca.pem"),
    }
    for name, value in values.items():
        dialog.locator(f"#element_{name}").fill(value)
    dialog.get_by_role("button", name="Save").click()
    row = page.get_by_role("row").filter(has_text="lineworks_ui_test")
    row.get_by_role("button", name="Test Connection").click()
    page.get_by_text("Connection successfully tested").first.wait_for()
    page.screenshot(path=output_dir / "connection-test.png", full_page=True)
    assert page.get_by_text(f"(Domain ID {domain_id})").first.is_visible()


def test_should_serve_the_signed_bot_callback_on_the_api_server(airflow_up):
    """The plugin file's app on the real API server: no Airflow auth, its own signature check."""
    import requests

    from lineworks_salesforce.bot.callback import signature

    creds = json.loads((airflow_up.home.parent / "sandbox" / "credentials" / "lineworks.json").read_text())
    url = f"{airflow_up.airflow_url}/lineworks/callback"
    event = {
        "type": "message",
        "source": {"userId": "u-x", "domainId": 1},
        "content": {"type": "text", "text": "?"},
    }
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/json", "X-WORKS-BotId": str(creds["bot_id"])}
    assert requests.post(url, data=body, headers=headers, timeout=10).status_code == 401  # unsigned
    signed = {**headers, "X-WORKS-Signature": signature(body, creds["bot_secret"])}
    assert requests.post(url, data=body, headers=signed, timeout=10).status_code == 200
    assert (
        requests.post(url, data=b"[", headers=signed, timeout=10).status_code == 401
    )  # signature of another body


def _trigger(up, dag_id: str) -> str:
    """Unpause and trigger ``dag_id`` now through the REST API; returns the run id."""
    from datetime import datetime, timezone

    api = up.api
    api.patch(f"{up.airflow_url}/api/v2/dags/{dag_id}", json={"is_paused": False}, timeout=10)
    now = datetime.now(timezone.utc).isoformat()
    run = api.post(
        f"{up.airflow_url}/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": now}, timeout=10
    ).json()
    return run["dag_run_id"]


def _wait_for(up, dag_id: str, run_id: str, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = up.api.get(f"{up.airflow_url}/api/v2/dags/{dag_id}/dagRuns/{run_id}", timeout=10).json()[
            "state"
        ]
        if state in ("success", "failed"):
            return state
        time.sleep(3)
    return "timeout"


def test_should_walk_a_new_friend_through_the_bot_on_the_talk_page(browser, airflow_up, output_dir):
    """A customer adds a rep as a LINE friend, lineworks_friends asks the rep, and on the sandbox's talk page
    the rep taps 既存の社外連絡先に紐づけ, types a name and taps the candidate: linked in Salesforce."""
    from sandbox.control_client import SandboxControl
    from sandbox.seed import endpoints, salesforce_query

    state = airflow_up.home.parent / "sandbox"
    found = endpoints(state)
    salesforce = SandboxControl(found["salesforce"]["url"], found["ca_bundle"])
    members = SandboxControl(found["lineworks"]["url"], found["ca_bundle"]).directory()["users"]
    rep = members[0]
    rep_id = salesforce_query(state, f"SELECT Id FROM User WHERE Email = '{rep['email']}'")[0]["Id"]
    folder = salesforce.seed(
        {"records": {"PhonebookFolder__c": [{"Name": "営業1課", "Type__c": "Team", "OwnerId": rep_id}]}}
    )["created"]["PhonebookFolder__c"][0]
    salesforce.seed(
        {
            "records": {
                "ExternalContact__c": [
                    {
                        "Name": "山本 由紀",
                        "LastNameKana__c": "ヤマモト",
                        "FirstNameKana__c": "ユキ",
                        "CompanyName__c": "株式会社ユキ",
                        "Folder__c": folder,
                    }
                ]
            }
        }
    )

    context = browser.new_context(viewport={"width": 1000, "height": 1000}, ignore_https_errors=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{found['lineworks']['url']}/talk")
    page.locator("#member").select_option(rep["userId"])
    page.fill("#friendName", "テスト 友子")
    page.get_by_role("button", name="友だちを追加").click()
    page.get_by_text("友だち「テスト 友子」を追加しました").wait_for()

    run_id = _trigger(airflow_up, "lineworks_friends")
    assert _wait_for(airflow_up, "lineworks_friends", run_id) == "success"
    page.get_by_text("LINEで「テスト 友子」さんと友だちになりました").wait_for()
    page.screenshot(path=output_dir / "talk-prompt.png", full_page=True)
    prompt = page.locator(".bubble").filter(has_text="テスト 友子")
    prompt.get_by_role("button", name="既存の社外連絡先に紐づけ").click()
    page.get_by_text("既存社外連絡先検索ワードを入力してください").wait_for()
    page.fill("#text", "山本")
    page.get_by_role("button", name="送信").click()
    page.get_by_text("以下の候補からテスト 友子と紐づけるユーザーを選択して下さい").wait_for()
    card = page.locator(".card").filter(has_text="山本 由紀")
    page.screenshot(path=output_dir / "talk-candidates.png", full_page=True)
    card.get_by_role("button", name="この連絡先に紐づけ").click()
    page.get_by_text("社外連絡先「山本 由紀」と「テスト 友子」さんを紐づけました").wait_for()
    page.screenshot(path=output_dir / "talk-linked.png", full_page=True)
    context.close()

    linked = salesforce_query(
        state, "SELECT LineDisplayName__c FROM ExternalContact__c WHERE Name = '山本 由紀'"
    )
    assert [r["LineDisplayName__c"] for r in linked] == ["テスト 友子"]
    tasks = salesforce_query(state, "SELECT Subject, OwnerId FROM Task WHERE Subject LIKE 'テスト%'")
    assert [(t["Subject"], t["OwnerId"]) for t in tasks] == [("テスト 友子さんがLINE WORKS交換", rep_id)]
