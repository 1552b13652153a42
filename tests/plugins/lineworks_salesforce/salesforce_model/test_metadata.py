"""The SFDX source in salesforce/: deployable shape, and consistent with what the pipeline writes."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lineworks_salesforce.salesforce_model import (
    DESCRIPTION_MAX,
    METADATA_NS,
    TASK_FIELDS_WRITTEN,
    TASK_KEY_FIELD,
    TASK_KEY_MAX_LENGTH,
    check_task_describe,
    default_schema,
)

SFDX = Path(__file__).resolve().parents[4] / "salesforce"
DEFAULT = SFDX / "force-app" / "main" / "default"
Q = "{%s}" % METADATA_NS
# Custom fields of Activity are granted per child object: Task and Event share field-level security.
ACTIVITY_CHILDREN = ("Task", "Event")


def _xml_files() -> list[Path]:
    return sorted(SFDX.rglob("*.xml"))


def _permission_set(name: str) -> ET.Element:
    return ET.parse(DEFAULT / "permissionsets" / f"{name}.permissionset-meta.xml").getroot()


def _field_permissions(name: str) -> dict[str, tuple[bool, bool]]:
    """``Object.Field`` -> (readable, editable)."""
    out = {}
    for fp in _permission_set(name).findall(Q + "fieldPermissions"):
        key = fp.findtext(Q + "field")
        assert key not in out, f"{name}: {key} is listed twice"
        out[key] = (fp.findtext(Q + "readable") == "true", fp.findtext(Q + "editable") == "true")
    return out


def _object_permissions(name: str) -> dict[str, dict[str, bool]]:
    out = {}
    for op in _permission_set(name).findall(Q + "objectPermissions"):
        out[op.findtext(Q + "object")] = {
            child.tag.removeprefix(Q): child.text == "true" for child in op if child.tag != Q + "object"
        }
    return out


def _custom_fields() -> list[tuple[str, str, bool]]:
    """(metadata folder, field, required) for every custom field file under objects/."""
    out = []
    for path in sorted(DEFAULT.glob("objects/*/fields/*.field-meta.xml")):
        root = ET.parse(path).getroot()
        out.append(
            (path.parent.parent.name, root.findtext(Q + "fullName"), root.findtext(Q + "required") == "true")
        )
    return out


def _permission_names(folder: str, field: str) -> list[str]:
    if folder == "Activity":
        return [f"{child}.{field}" for child in ACTIVITY_CHILDREN]
    return [f"{folder}.{field}"]


def _longest_task_key() -> str:
    domain_id = "9" * 10
    contact_id = str(uuid.uuid4())
    return f"LW-{domain_id}-{contact_id}-2026123123-p999"


class TestFiles:
    def test_should_find_the_expected_metadata(self):
        names = {p.name for p in _xml_files()}
        assert {
            "ExternalContact__c.object-meta.xml",
            "PhonebookFolder__c.object-meta.xml",
            "ActivityKey__c.field-meta.xml",
            "LineWorksUserId__c.field-meta.xml",
            "LineWorks_User.permissionset-meta.xml",
            "LineWorks_Admin.permissionset-meta.xml",
        } <= names

    @pytest.mark.parametrize("path", _xml_files(), ids=lambda p: str(p.relative_to(SFDX)))
    def test_should_be_well_formed_metadata_api_xml(self, path: Path):
        raw = path.read_bytes()
        assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        root = ET.fromstring(raw)
        assert root.tag.startswith(Q), f"{path.name} is not in the Metadata API namespace"

    def test_should_name_field_files_after_their_full_name(self):
        for path in DEFAULT.glob("objects/*/fields/*.field-meta.xml"):
            assert ET.parse(path).getroot().findtext(Q + "fullName") == path.name.removesuffix(
                ".field-meta.xml"
            )

    def test_should_declare_the_project_for_api_62(self):
        project = json.loads((SFDX / "sfdx-project.json").read_text(encoding="utf-8"))
        assert project["sourceApiVersion"] == "62.0"
        assert project["packageDirectories"] == [{"path": "force-app", "default": True}]
        assert default_schema().api_version == "62.0"

    def test_should_keep_task_custom_fields_on_activity(self):
        # Salesforce only accepts Task/Event custom fields on the Activity object.
        assert not (DEFAULT / "objects" / "Task").exists()
        assert (DEFAULT / "objects" / "Activity" / "fields" / f"{TASK_KEY_FIELD}.field-meta.xml").is_file()


class TestTaskFields:
    @pytest.mark.parametrize("name, expected_type", sorted(TASK_FIELDS_WRITTEN.items()))
    def test_should_define_every_written_task_field_with_its_type(self, name: str, expected_type: str):
        field = default_schema().object("Task").field(name)
        assert field is not None, f"Task.{name} is written by the loader but not defined"
        assert field.name == name
        assert field.type == expected_type
        assert field.createable and field.updateable

    def test_should_make_the_activity_key_external_unique_and_long_enough(self):
        key = default_schema().object("Task").field(TASK_KEY_FIELD)
        assert key.external_id and key.unique and key.case_sensitive
        assert key.length == TASK_KEY_MAX_LENGTH
        assert key.length >= len(_longest_task_key()) == 66

    def test_should_hold_32000_characters_in_the_description(self):
        description = default_schema().object("Task").field("Description")
        assert description.type == "textarea"
        assert description.length == DESCRIPTION_MAX == 32000

    def test_should_accept_the_task_describe_of_this_model(self):
        assert check_task_describe(default_schema().object("Task").describe()) == []

    def test_should_report_what_an_org_is_missing(self):
        describe = default_schema().object("Task").describe()
        fields = [f for f in describe["fields"] if f["name"] != "MessageCount__c"]
        for f in fields:
            if f["name"] == TASK_KEY_FIELD:
                f.update(unique=False, length=50)
            if f["name"] == "WhoId":
                f["updateable"] = False
        problems = check_task_describe({**describe, "fields": fields})
        assert any("Task.MessageCount__c is missing" in p for p in problems)
        assert any("External ID and Unique" in p for p in problems)
        assert any("shorter than 100" in p for p in problems)
        assert any("Task.WhoId is not createable and updateable" in p for p in problems)


class TestCustomObjects:
    def test_should_key_external_contacts_by_the_lineworks_uuid(self):
        field = default_schema().object("ExternalContact__c").field("LineWorksContactId__c")
        assert field.label == "LINE WORKS UUID"
        assert field.external_id and field.unique and not field.case_sensitive
        assert (field.type, field.length) == ("string", 100)

    def test_should_describe_external_contact_as_the_product_labels_it(self):
        obj = default_schema().object("ExternalContact__c")
        assert (obj.label, obj.label_plural, obj.field("Name").label) == (
            "社外連絡先",
            "社外連絡先",
            "社外連絡先名",
        )
        assert obj.activities_enabled and obj.sharing_model == "ReadWrite"
        expected = {
            "LastName__c": ("姓", "string", 80),
            "FirstName__c": ("名", "string", 80),
            "LastNameKana__c": ("姓フリガナ", "string", 80),
            "FirstNameKana__c": ("名フリガナ", "string", 80),
            "RomajiName__c": ("氏名英字", "string", 160),
            "CompanyName__c": ("会社名", "string", 255),
            "LineDisplayName__c": ("LINE表示名", "string", 255),
            "MasterUserId__c": ("担当メンバーのLINE WORKS ユーザーID", "string", 100),
            "Email__c": ("メール", "email", 80),
            "Phone__c": ("電話番号", "phone", 40),
        }
        for name, (label, kind, length) in expected.items():
            field = obj.field(name)
            assert (field.label, field.type, field.length) == (label, kind, length), name

    @pytest.mark.parametrize(
        "name, label, target",
        [
            ("Folder__c", "電話帳フォルダ", "PhonebookFolder__c"),
            ("Lead__c", "リード", "Lead"),
            ("Contact__c", "取引先責任者", "Contact"),
            ("Account__c", "個人取引先", "Account"),
        ],
    )
    def test_should_link_external_contacts_through_lookups_that_clear_on_delete(self, name, label, target):
        field = default_schema().object("ExternalContact__c").field(name)
        assert (field.label, field.type, field.reference_to) == (label, "reference", (target,))
        assert field.relationship_name == name.removesuffix("__c") + "__r"
        assert field.nillable and not field.cascade_delete
        root = ET.parse(
            DEFAULT / "objects" / "ExternalContact__c" / "fields" / f"{name}.field-meta.xml"
        ).getroot()
        assert root.findtext(Q + "deleteConstraint") == "SetNull"

    def test_should_offer_shared_personal_and_team_folder_types(self):
        field = default_schema().object("PhonebookFolder__c").field("Type__c")
        assert field.picklist_values == ("Shared", "Personal", "Team")
        assert field.picklist_labels == ("共有", "個人", "チーム")
        assert field.restricted_picklist and not field.nillable
        assert field.default_value == "Personal" and not field.required_on_create

    def test_should_give_folders_an_owner(self):
        folder = default_schema().object("PhonebookFolder__c")
        assert folder.sharing_model == "Private"
        assert folder.relationship("Owner").name == "OwnerId"

    def test_should_map_users_by_lineworks_user_id(self):
        field = default_schema().object("User").field("LineWorksUserId__c")
        assert field.external_id and field.unique and (field.type, field.length) == ("string", 100)


class TestPermissionSets:
    def test_should_label_the_permission_sets_for_admins(self):
        assert _permission_set("LineWorks_User").findtext(Q + "label") == "LINE WORKS連携"
        assert _permission_set("LineWorks_Admin").findtext(Q + "label") == "LINE WORKS連携_Admin"

    def test_should_grant_the_admin_every_optional_custom_field(self):
        granted = _field_permissions("LineWorks_Admin")
        expected = {
            name
            for folder, field, required in _custom_fields()
            if not required
            for name in _permission_names(folder, field)
        }
        assert expected <= set(granted)
        assert all(granted[name] == (True, True) for name in expected)
        assert {"Task.ActivityKey__c", "User.LineWorksUserId__c", "ExternalContact__c.Folder__c"} <= expected

    @pytest.mark.parametrize("permission_set", ["LineWorks_User", "LineWorks_Admin"])
    def test_should_leave_required_fields_out_of_field_permissions(self, permission_set: str):
        # Salesforce rejects a deploy that sets field permissions on a required field.
        required = {
            name
            for folder, field, required in _custom_fields()
            if required
            for name in _permission_names(folder, field)
        }
        assert required == {"PhonebookFolder__c.Type__c"}
        assert not required & set(_field_permissions(permission_set))

    @pytest.mark.parametrize("permission_set", ["LineWorks_User", "LineWorks_Admin"])
    def test_should_only_grant_fields_that_exist(self, permission_set: str):
        schema = default_schema()
        for name in _field_permissions(permission_set):
            obj, field = name.split(".")
            host = "Task" if obj == "Event" else obj  # Event carries the same Activity fields
            assert schema.object(host).field(field) is not None, name

    def test_should_let_reps_create_read_and_edit_external_contacts(self):
        objects = _object_permissions("LineWorks_User")
        assert objects["ExternalContact__c"] == {
            "allowCreate": True,
            "allowDelete": False,
            "allowEdit": True,
            "allowRead": True,
            "modifyAllRecords": False,
            "viewAllRecords": False,
        }
        assert objects["PhonebookFolder__c"]["allowRead"] and not objects["PhonebookFolder__c"]["allowEdit"]

    def test_should_let_reps_edit_contacts_but_only_read_activity_and_user_fields(self):
        granted = _field_permissions("LineWorks_User")
        for folder, field, required in _custom_fields():
            if required:
                continue
            editable = folder == "ExternalContact__c"
            for name in _permission_names(folder, field):
                assert granted.get(name) == (True, editable), name

    def test_should_give_the_admin_full_access_to_both_objects(self):
        objects = _object_permissions("LineWorks_Admin")
        for name in ("ExternalContact__c", "PhonebookFolder__c"):
            assert all(objects[name].values()), name
