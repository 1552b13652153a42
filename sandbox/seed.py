"""Seed **both** sandboxes from one scenario file (``lineworks-salesforce sandbox seed FILE``).

A scenario file is the LINE WORKS scenario of :mod:`sandbox.lineworks.seeding` (members, LINE friends
with their ``linkedExternalUser.buddyUserIds``, rooms, messages — or a ``generator``) plus an optional
``salesforce`` section describing the org that goes with that tenant::

    salesforce:
      users: members             # a Salesforce User per LINE WORKS member, matched by e-mail (default);
                                 # or a list of LINE WORKS userIds; or "none"
      served: true               # those users hold the LineWorks_User permission set (default): the bot
                                 # serves them
      externalContacts:          # 社外連絡先, as the registration bot would have made them (default: none)
        - {contactId: c-tanaka-1, link: contact}   # link: none | lead | contact | person
        - {all: lead}                              # or every LINE friend of the tenant, one link kind
      records:                   # any other records, as the Salesforce sandbox's /_sandbox/seed takes them
        Lead: [{LastName: 見込, Company: 株式会社サンプル}]

The LINE WORKS side is seeded first (with our app and bot registered, so the connections of ``make up``
keep working; a scenario without ``domainId`` keeps the running sandbox's Domain ID), then the
Salesforce side is derived from what the LINE WORKS sandbox then holds (``GET /_sandbox/directory``), so
a generated tenant gets its reps and 社外連絡先 as well as a hand-written one. ``--no-reset`` adds to what
the sandboxes hold instead of starting over.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sandbox.control_client import SandboxControl
from sandbox.demo_org import LINK_KINDS, register_friends, seed_reps, serve_reps

DEFAULT_STATE_DIR = Path(".sandbox")
STATE_DIR_ENV = "LINEWORKS_SANDBOX_STATE_DIR"  # make up exports it; the CLI finds the same sandboxes
_SALESFORCE_KEYS = frozenset({"users", "served", "externalContacts", "records"})


class ScenarioError(ValueError):
    """A scenario the seeder cannot use; names the field, never echoes a value."""


def default_state_dir(checkout: Path | None = None) -> Path:
    """Where ``make up`` and ``python -m sandbox serve`` keep the sandboxes' state and ``endpoints.json``:
    ``$LINEWORKS_SANDBOX_STATE_DIR``, else ``.sandbox`` in ``checkout`` (else in the working folder)."""
    if os.environ.get(STATE_DIR_ENV):
        return Path(os.environ[STATE_DIR_ENV])
    return (checkout / DEFAULT_STATE_DIR) if checkout else DEFAULT_STATE_DIR


def endpoints(state_dir: Path) -> dict[str, Any]:
    """The running sandboxes' ``endpoints.json``: URLs, CA, and the bot's callback URL once set."""
    path = state_dir / "endpoints.json"
    if not path.is_file():
        raise ScenarioError(
            f"no running sandbox found: {path} does not exist (start one with `make up` or "
            "`python -m sandbox serve`, or pass --state-dir)"
        )
    return json.loads(path.read_text())


def controls(state_dir: Path) -> tuple[SandboxControl, SandboxControl]:
    """The control clients of the running sandboxes whose ``endpoints.json`` is in ``state_dir``."""
    found = endpoints(state_dir)
    ca = found["ca_bundle"]
    return SandboxControl(found["lineworks"]["url"], ca), SandboxControl(found["salesforce"]["url"], ca)


def remember_callback_url(state_dir: Path, url: str) -> None:
    """Where the bot's callbacks go (``make up``: the plugin app), kept for later seeds."""
    found = endpoints(state_dir)
    (state_dir / "endpoints.json").write_text(json.dumps({**found, "bot_callback_url": url}, indent=2))


def load_scenario(name_or_file: str, seed: int = 42) -> dict[str, Any]:
    """A scenario file (``.json``, ``.yaml``/``.yml``) or a generator size (``demo``, ``test``, ``bench``)."""
    from sandbox.lineworks.seeding import read_spec

    if Path(name_or_file).is_file():
        try:
            return read_spec(name_or_file)
        except (ValueError, UnicodeDecodeError) as exc:  # JSON and YAML errors; their text quotes the file
            raise ScenarioError(
                f"{name_or_file}: not a JSON or YAML scenario ({type(exc).__name__})"
            ) from None
    if name_or_file in ("demo", "test", "bench"):
        return {"generator": {"size": name_or_file, "seed": seed}}
    raise ScenarioError(f"{name_or_file}: no such file (or a generator size: demo, test, bench)")


def seed_running(
    state_dir: Path, name_or_file: str, *, seed: int = 42, reset: bool = True, callback_url: str | None = None
) -> dict[str, Any]:
    """Seed the running sandboxes of ``state_dir`` (with the app, bot and connected app whose credentials
    are kept there, the ones ``make up``'s connections use) from a scenario."""
    from sandbox.credentials import ensure_credentials, ensure_salesforce_credentials

    lineworks, salesforce = controls(state_dir)
    creds = ensure_credentials(state_dir)
    callback_url = callback_url or endpoints(state_dir).get("bot_callback_url")
    return seed_both(
        lineworks,
        salesforce,
        load_scenario(name_or_file, seed),
        {"apps": [creds.app_spec()], "bots": [creds.bot_spec(callback_url)]},
        ensure_salesforce_credentials(state_dir).seed_spec(),
        reset=reset,
    )


TASK_FIELDS = "ActivityKey__c, Subject, ActivityDate, MessageCount__c, Who.Name, What.Name, Owner.Name"


def salesforce_query(state_dir: Path, soql: str) -> list[dict[str, Any]]:
    """Records of a SOQL query against the running Salesforce sandbox, through its REST API as the
    connected app of ``state_dir`` (client-credentials flow)."""
    from urllib.parse import quote

    from hooks.transport import make_session
    from sandbox.credentials import ensure_salesforce_credentials

    _, control = controls(state_dir)
    creds = ensure_salesforce_credentials(state_dir)
    session = make_session(str(control.session.verify))
    token = session.post(
        f"{control.base_url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.consumer_key,
            "client_secret": creds.consumer_secret,
        },
        timeout=30,
    ).json()
    answer = session.get(
        f"{token['instance_url']}/services/data/v62.0/query/?q={quote(soql)}",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=60,
    )
    answer.raise_for_status()
    return answer.json()["records"]


def salesforce_tasks(state_dir: Path, limit: int = 200) -> list[dict[str, Any]]:
    """The Tasks the running Salesforce sandbox holds, newest first."""
    soql = f"SELECT {TASK_FIELDS} FROM Task ORDER BY ActivityDate DESC, ActivityKey__c LIMIT {int(limit)}"
    return salesforce_query(state_dir, soql)


def split_scenario(spec: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the LINE WORKS scenario, the checked ``salesforce`` section)."""
    if not isinstance(spec, dict):
        raise ScenarioError("a scenario must be a mapping (JSON object or YAML mapping)")
    lineworks = {k: v for k, v in spec.items() if k != "salesforce"}
    section = spec.get("salesforce") or {}
    if not isinstance(section, dict):
        raise ScenarioError("salesforce must be a mapping")
    unknown = sorted(set(section) - _SALESFORCE_KEYS)
    if unknown:
        raise ScenarioError(f"unknown keys in salesforce: {', '.join(repr(k)[:40] for k in unknown[:5])}")
    users = section.get("users", "members")
    if not (users in ("members", "none") or _is_list_of_text(users)):
        raise ScenarioError('salesforce.users must be "members", "none" or a list of LINE WORKS userIds')
    links = section.get("externalContacts", [])
    if not isinstance(links, list):
        raise ScenarioError("salesforce.externalContacts must be a list")
    for i, entry in enumerate(links):
        where = f"salesforce.externalContacts[{i}]"
        if not isinstance(entry, dict) or not (set(entry) <= {"contactId", "link", "all"}):
            raise ScenarioError(f"{where} must be {{contactId, link}} or {{all: link}}")
        kind = entry.get("all", entry.get("link", "none"))
        if kind not in LINK_KINDS:
            raise ScenarioError(f"{where}: the link must be one of {', '.join(LINK_KINDS)}")
        if "all" not in entry and not isinstance(entry.get("contactId"), str):
            raise ScenarioError(f"{where}.contactId must be a LINE WORKS contact id")
    records = section.get("records", {})
    if not isinstance(records, dict):
        raise ScenarioError("salesforce.records must be a mapping of sObject → list of records")
    served = section.get("served", True)
    if not isinstance(served, bool):
        raise ScenarioError("salesforce.served must be true or false")
    return lineworks, {"users": users, "served": served, "externalContacts": links, "records": records}


def seed_both(
    lineworks: SandboxControl,
    salesforce: SandboxControl,
    spec: dict[str, Any],
    lineworks_setup: dict[str, Any],
    salesforce_setup: dict[str, Any],
    *,
    reset: bool = True,
) -> dict[str, Any]:
    """Seed the LINE WORKS sandbox with ``spec`` (+ ``lineworks_setup``: our app and bot), then the
    Salesforce sandbox with ``salesforce_setup`` (our connected app and integration user) and what the
    scenario's ``salesforce`` section asks for. Returns counts of what each side now holds."""
    lw_spec, section = split_scenario(spec)
    if reset:
        domain_id = lineworks.stats()["domainId"]
        lineworks.reset()
        if "domainId" not in lw_spec and "generator" not in lw_spec:
            lw_spec["domainId"] = domain_id  # the connections in use keep working
        salesforce.reset()
    for key in ("apps", "bots"):
        lw_spec[key] = [*lw_spec.get(key, []), *lineworks_setup.get(key, [])]
    lw_stats = lineworks.seed(lw_spec)
    salesforce.seed(salesforce_setup if reset else {"apps": salesforce_setup.get("apps", [])})

    directory = lineworks.directory()
    members = directory["users"]
    if section["users"] == "none":
        members = []
    elif section["users"] != "members":
        wanted = set(section["users"])
        members = [m for m in members if m["userId"] in wanted]
        if len(members) != len(wanted):
            raise ScenarioError("salesforce.users names a userId the LINE WORKS scenario does not have")
    reps = seed_reps(salesforce, members) if members else {}
    if reps and section["served"]:
        serve_reps(salesforce, list(reps.values()))

    friends = {f["contactId"]: f for f in directory["friends"]}
    linked: dict[str, str] = {}
    for i, entry in enumerate(section["externalContacts"]):
        if "all" in entry:
            linked.update(dict.fromkeys(friends, entry["all"]))
        elif entry["contactId"] in friends:
            linked[entry["contactId"]] = entry.get("link", "none")
        else:
            raise ScenarioError(
                f"salesforce.externalContacts[{i}].contactId is not a LINE friend of the scenario"
            )
    for kind in LINK_KINDS:
        chosen = [friends[c] for c, k in linked.items() if k == kind]
        if chosen:
            register_friends(salesforce, chosen, kind)
    if section["records"]:
        salesforce.seed({"records": section["records"]})
    return {
        "domainId": lw_stats["domainId"],
        "lineworks": lw_stats["rows"],
        "salesforce": {"users": len(reps), "externalContacts": len(linked), **salesforce.stats()["records"]},
    }


def _is_list_of_text(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
