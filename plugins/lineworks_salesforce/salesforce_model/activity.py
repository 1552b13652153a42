"""The Task fields the activity loader writes, and the limits that come with them.

The loader upserts Task by :data:`TASK_KEY_FIELD` and writes exactly the fields in
:data:`TASK_FIELDS_WRITTEN`; :func:`check_task_describe` compares that list with a describe body
(from the sandbox or a real org), so a missing field or a wrong type shows up before the first
load instead of as per-record errors.

Keys look like ``LW-<domainId>-<contactId>-<YYYYMMDDHH>`` with ``-p2``, ``-p3`` … for the parts of
an hour whose description exceeds :data:`DESCRIPTION_MAX` (``shared/DESIGN.md`` §3.4).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Task field -> describe type, for every field the loader sends. Task.Subject is a combobox (a
# picklist that takes free text), not a plain string.
TASK_FIELDS_WRITTEN: dict[str, str] = {
    "Subject": "combobox",
    "Description": "textarea",
    "Status": "picklist",
    "ActivityDate": "date",
    "OwnerId": "reference",
    "WhoId": "reference",
    "WhatId": "reference",
    "ActivityKey__c": "string",
    "LineWorksChannelId__c": "string",
    "MessageCount__c": "double",
    "FirstMessageAt__c": "datetime",
    "LastMessageAt__c": "datetime",
}

TASK_KEY_FIELD = "ActivityKey__c"
# Length of Activity.ActivityKey__c in salesforce/ (a test keeps the two equal); import this
# constant instead of repeating the number.
TASK_KEY_MAX_LENGTH = 100
SUBJECT_DEFAULT = "LINE WORKSログ"
# Task.Description holds at most 32,000 characters (Salesforce counts characters, not bytes).
DESCRIPTION_MAX = 32000


def check_task_describe(describe: Mapping[str, Any]) -> list[str]:
    """Problems that would stop the loader from writing Task, from a ``/sobjects/Task/describe/`` body.

    An empty list means every written field exists, has the expected type and can be created and
    updated, and the key field is an External ID that is unique and long enough.
    """
    fields = {f["name"].lower(): f for f in describe.get("fields", [])}
    problems = []
    for name, expected in TASK_FIELDS_WRITTEN.items():
        found = fields.get(name.lower())
        if found is None:
            problems.append(f"Task.{name} is missing (deploy salesforce/ and grant the permission set)")
            continue
        if found.get("type") != expected:
            problems.append(f"Task.{name} has type {found.get('type')!r}, expected {expected!r}")
        if not found.get("createable") or not found.get("updateable"):
            problems.append(
                f"Task.{name} is not createable and updateable for this user (field-level security?)"
            )
    key = fields.get(TASK_KEY_FIELD.lower())
    if key is not None:
        if not key.get("externalId") or not key.get("unique"):
            problems.append(f"Task.{TASK_KEY_FIELD} must be External ID and Unique")
        if int(key.get("length") or 0) < TASK_KEY_MAX_LENGTH:
            problems.append(f"Task.{TASK_KEY_FIELD} is shorter than {TASK_KEY_MAX_LENGTH} characters")
    description = fields.get("description")
    if description is not None and int(description.get("length") or 0) < DESCRIPTION_MAX:
        problems.append(
            f"Task.Description holds {description.get('length')} characters, expected {DESCRIPTION_MAX}"
        )
    return problems
