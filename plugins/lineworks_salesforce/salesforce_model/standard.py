"""The standard Salesforce objects the product touches, as describe would show them.

Only the fields the pipeline, the bot and the sandbox use are modelled. Types, lengths and flags
follow the Salesforce Object Reference (``shared/reference/airflow-salesforce.md`` §8); labels are
the English describe labels. Custom fields from ``salesforce/`` are merged in by
:meth:`lineworks_salesforce.salesforce_model.schema.Schema.load` (Activity fields into Task, User fields
into User).

Two rules are left to the emulator because describe cannot express them:

* An Account is either a business account (``Name`` required) or a person account (``LastName``
  required, ``Name`` derived); so ``Account.Name`` is not ``required_on_create`` here.
* ``Task.WhatId`` must be empty when ``WhoId`` is a Lead.
"""

from __future__ import annotations

from collections.abc import Iterable

from lineworks_salesforce.salesforce_model.schema import FieldDef, ObjectDef, system_fields

# Standard key prefixes (the first three characters of every record Id).
KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Lead": "00Q",
    "Task": "00T",
    "PermissionSet": "0PS",
    "PermissionSetAssignment": "0Pa",
}

TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
TASK_CLOSED_STATUSES = ("Completed",)
TASK_PRIORITIES = ("High", "Normal", "Low")
TASK_SUBTYPES = ("Task", "Email", "ListEmail", "Cadence", "Call")
TASK_SUBJECT_SUGGESTIONS = ("Call", "Send Letter", "Send Quote", "Other")
LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)

_RO = {"createable": False, "updateable": False}


def _id() -> FieldDef:
    return FieldDef("Id", "id", "Record ID", length=18, nillable=False, defaulted_on_create=True, **_RO)


def _str(name: str, label: str, length: int, *, required: bool = False, **kw: object) -> FieldDef:
    attrs: dict[str, object] = {"nillable": not required, "required_on_create": required, **kw}
    return FieldDef(name, "string", label, length=length, **attrs)


def _ref(name: str, label: str, targets: Iterable[str], relationship: str, **kw: object) -> FieldDef:
    return FieldDef(
        name, "reference", label, length=18, reference_to=tuple(targets), relationship_name=relationship, **kw
    )


def _owner(*targets: str) -> FieldDef:
    # Defaults to the running user, so an insert without it succeeds.
    return _ref("OwnerId", "Owner ID", targets, "Owner", nillable=False, defaulted_on_create=True)


def _flag(name: str, label: str, **kw: object) -> FieldDef:
    attrs = {"nillable": False, "defaulted_on_create": True, "default_value": False, **_RO}
    attrs.update(kw)
    return FieldDef(name, "boolean", label, **attrs)


def _picklist(
    name: str,
    label: str,
    values: tuple[str, ...],
    default: str | None = None,
    *,
    required: bool = False,
    **kw: object,
) -> FieldDef:
    return FieldDef(
        name,
        "picklist",
        label,
        length=255 if name != "TaskSubtype" else 40,
        nillable=not required,
        # A picklist with a default is filled by the platform, so it is never missing on insert.
        required_on_create=required and default is None,
        default_value=default,
        picklist_values=values,
        restricted_picklist=kw.pop("restricted_picklist", True),
        **kw,
    )


def _object(
    name: str, label: str, plural: str, fields: Iterable[FieldDef], *, deletable: bool = True, **kw: object
):
    audit = system_fields(None, owned=False, deletable=deletable)
    audit.pop("Id")
    body = {f.name: f for f in fields}
    return ObjectDef(
        name=name,
        label=label,
        label_plural=plural,
        key_prefix=KEY_PREFIXES[name],
        custom=False,
        fields={"Id": _id(), **body, **{k: v for k, v in audit.items() if k not in body}},
        deletable=deletable,
        **kw,
    )


def task(what_targets: Iterable[str] = ()) -> ObjectDef:
    """Task; ``what_targets`` are the custom objects with activities enabled (WhatId targets)."""
    return _object(
        "Task",
        "Task",
        "Tasks",
        [
            FieldDef(
                "Subject",
                "combobox",
                "Subject",
                length=255,
                picklist_values=TASK_SUBJECT_SUGGESTIONS,
                restricted_picklist=False,
            ),
            FieldDef("Description", "textarea", "Comments", length=32000),
            _picklist("Status", "Status", TASK_STATUSES, "Not Started", required=True),
            _picklist("Priority", "Priority", TASK_PRIORITIES, "Normal", required=True),
            FieldDef("ActivityDate", "date", "Due Date Only"),
            _owner("Group", "User"),
            _ref("WhoId", "Name ID", ("Contact", "Lead"), "Who", child_relationship_name="Tasks"),
            _ref(
                "WhatId",
                "Related To ID",
                ("Account", *sorted(set(what_targets) - {"Account"})),
                "What",
                child_relationship_name="Tasks",
            ),
            _ref("AccountId", "Account ID", ("Account",), "Account", **_RO),
            _picklist("TaskSubtype", "Task Subtype", TASK_SUBTYPES, updateable=False),
            _flag("IsClosed", "Closed"),
        ],
        activities_enabled=False,
    )


def lead() -> ObjectDef:
    return _object(
        "Lead",
        "Lead",
        "Leads",
        [
            _str("FirstName", "First Name", 40),
            _str("LastName", "Last Name", 80, required=True),
            _str("Name", "Full Name", 121, nillable=False, name_field=True, **_RO),
            _str("Company", "Company", 255, required=True),
            FieldDef("Email", "email", "Email", length=80),
            FieldDef("Phone", "phone", "Phone", length=40),
            _picklist("Status", "Status", LEAD_STATUSES, "Open - Not Contacted", required=True),
            _flag("IsConverted", "Converted"),
            _ref("ConvertedAccountId", "Converted Account ID", ("Account",), "ConvertedAccount", **_RO),
            _ref("ConvertedContactId", "Converted Contact ID", ("Contact",), "ConvertedContact", **_RO),
            _owner("Group", "User"),
        ],
        activities_enabled=True,
    )


def contact() -> ObjectDef:
    return _object(
        "Contact",
        "Contact",
        "Contacts",
        [
            _str("FirstName", "First Name", 40),
            _str("LastName", "Last Name", 80, required=True),
            _str("Name", "Full Name", 121, nillable=False, name_field=True, **_RO),
            FieldDef("Email", "email", "Email", length=80),
            FieldDef("Phone", "phone", "Business Phone", length=40),
            _ref("AccountId", "Account ID", ("Account",), "Account", child_relationship_name="Contacts"),
            _flag("IsPersonAccount", "Is Person Account"),
            _owner("User"),
        ],
        activities_enabled=True,
    )


def account() -> ObjectDef:
    return _object(
        "Account",
        "Account",
        "Accounts",
        [
            # Required for business accounts only; person accounts derive it from First/LastName.
            _str("Name", "Account Name", 255, nillable=False, name_field=True),
            _str("FirstName", "First Name", 40),
            _str("LastName", "Last Name", 80),
            FieldDef("PersonEmail", "email", "Email", length=80),
            _flag("IsPersonAccount", "Is Person Account"),
            _ref("PersonContactId", "Person Contact ID", ("Contact",), "PersonContact", **_RO),
            _owner("User"),
        ],
        activities_enabled=True,
    )


def user() -> ObjectDef:
    return _object(
        "User",
        "User",
        "Users",
        [
            _str("Username", "Username", 80, required=True, unique=True),
            FieldDef("Email", "email", "Email", length=128, nillable=False, required_on_create=True),
            _str("FirstName", "First Name", 40),
            _str("LastName", "Last Name", 80, required=True),
            _str("Name", "Full Name", 121, nillable=False, name_field=True, **_RO),
            FieldDef(
                "IsActive", "boolean", "Active", nillable=False, defaulted_on_create=True, default_value=True
            ),
        ],
        deletable=False,
    )


def permission_set() -> ObjectDef:
    return _object(
        "PermissionSet",
        "Permission Set",
        "Permission Sets",
        [
            _str("Name", "Name", 80, required=True, name_field=True),
            _str("Label", "Label", 80, required=True),
        ],
        deletable=True,
    )


def permission_set_assignment() -> ObjectDef:
    return _object(
        "PermissionSetAssignment",
        "Permission Set Assignment",
        "Permission Set Assignments",
        [
            _ref(
                "AssigneeId",
                "Assignee ID",
                ("User",),
                "Assignee",
                nillable=False,
                required_on_create=True,
                updateable=False,
                child_relationship_name="PermissionSetAssignments",
            ),
            _ref(
                "PermissionSetId",
                "Permission Set ID",
                ("PermissionSet",),
                "PermissionSet",
                nillable=False,
                required_on_create=True,
                updateable=False,
                child_relationship_name="Assignments",
            ),
        ],
        updateable=False,
    )


def standard_objects(what_targets: Iterable[str] = ()) -> dict[str, ObjectDef]:
    """Fresh definitions of every modelled standard object, keyed by API name."""
    objects = [
        task(what_targets),
        lead(),
        contact(),
        account(),
        user(),
        permission_set(),
        permission_set_assignment(),
    ]
    return {obj.name: obj for obj in objects}
