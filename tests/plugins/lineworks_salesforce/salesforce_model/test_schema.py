"""lineworks_salesforce.salesforce_model.schema: lookups, relationships, key prefixes, describe output,
loading rules."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lineworks_salesforce.salesforce_model import FieldDef, ObjectDef, Schema, default_schema
from lineworks_salesforce.salesforce_model.schema import custom_key_prefixes

SFDX = Path(__file__).resolve().parents[4] / "salesforce"
OBJECT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">
    <deploymentStatus>Deployed</deploymentStatus>
    <enableActivities>{activities}</enableActivities>
    <label>{name}</label>
    <nameField><label>Name</label><type>{name_type}</type></nameField>
    <pluralLabel>{name}</pluralLabel>
    <sharingModel>{sharing}</sharingModel>
</CustomObject>
"""
FIELD_XML = """<?xml version="1.0" encoding="UTF-8"?>
<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">
    <fullName>{name}</fullName>
    <label>{name}</label>
    {body}
</CustomField>
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A writable copy of salesforce/."""
    return Path(shutil.copytree(SFDX, tmp_path / "salesforce"))


def _add_object(project: Path, name: str, *, activities=False, name_type="Text", sharing="ReadWrite") -> Path:
    folder = project / "force-app" / "main" / "default" / "objects" / name
    (folder / "fields").mkdir(parents=True)
    (folder / f"{name}.object-meta.xml").write_text(
        OBJECT_XML.format(
            name=name, activities=str(activities).lower(), name_type=name_type, sharing=sharing
        ),
        encoding="utf-8",
    )
    return folder


def _add_field(folder: Path, name: str, body: str) -> None:
    (folder / "fields").mkdir(parents=True, exist_ok=True)
    (folder / "fields" / f"{name}.field-meta.xml").write_text(
        FIELD_XML.format(name=name, body=body), encoding="utf-8"
    )


class TestLookups:
    def test_should_find_objects_and_fields_ignoring_case(self):
        schema = default_schema()
        assert schema.object("task") is schema.object("TASK") is schema.objects["Task"]
        assert schema.object("externalcontact__C").name == "ExternalContact__c"
        assert schema.object("Opportunity") is None
        task = schema.object("Task")
        assert task.field("activitykey__c").name == "ActivityKey__c"
        assert task.field("WHOID") is task.fields["WhoId"]
        assert task.field("NoSuchField__c") is None

    @pytest.mark.parametrize(
        "obj, relationship, field",
        [
            ("Task", "Owner", "OwnerId"),
            ("Task", "who", "WhoId"),
            ("Task", "What", "WhatId"),
            ("Task", "Account", "AccountId"),
            ("ExternalContact__c", "Folder__r", "Folder__c"),
            ("ExternalContact__c", "folder__R", "Folder__c"),
            ("ExternalContact__c", "Lead__r", "Lead__c"),
            ("ExternalContact__c", "Owner", "OwnerId"),
            ("ExternalContact__c", "CreatedBy", "CreatedById"),
            ("Account", "PersonContact", "PersonContactId"),
            ("PermissionSetAssignment", "Assignee", "AssigneeId"),
        ],
    )
    def test_should_resolve_relationship_names_to_reference_fields(self, obj, relationship, field):
        assert default_schema().object(obj).relationship(relationship).name == field

    def test_should_not_resolve_a_field_name_as_a_relationship(self):
        external = default_schema().object("ExternalContact__c")
        assert external.relationship("Folder__c") is None
        assert external.relationship("Folder") is None

    def test_should_list_children_under_their_parent(self):
        schema = default_schema()
        folder = schema.object("PhonebookFolder__c")
        rel = folder.child_relationship("externalcontacts__r")
        assert (rel.child_sobject, rel.field) == ("ExternalContact__c", "Folder__c")
        assert schema.object("Lead").child_relationship("Tasks").field == "WhoId"
        assert schema.object("ExternalContact__c").child_relationship("Tasks").field == "WhatId"
        assert schema.object("Account").child_relationship("Contacts").field == "AccountId"


class TestKeyPrefixes:
    def test_should_use_the_standard_and_custom_key_prefixes(self):
        prefixes = {name: obj.key_prefix for name, obj in default_schema().objects.items()}
        assert prefixes == {
            "Task": "00T",
            "Lead": "00Q",
            "Contact": "003",
            "Account": "001",
            "User": "005",
            "PermissionSet": "0PS",
            "PermissionSetAssignment": "0Pa",
            "ExternalContact__c": "a00",
            "PhonebookFolder__c": "a01",
        }
        assert len(set(prefixes.values())) == len(prefixes)

    def test_should_find_an_object_by_prefix_or_record_id(self):
        schema = default_schema()
        assert schema.by_prefix("00T").name == "Task"
        assert schema.by_prefix("a01").name == "PhonebookFolder__c"
        assert schema.by_prefix("0Pa5g000000AbCdEAF").name == "PermissionSetAssignment"
        assert schema.by_prefix("0PA") is None  # prefixes are case-sensitive, like Ids
        assert schema.by_prefix("006") is None

    def test_should_number_custom_objects_in_sorted_order(self, project: Path):
        _add_object(project, "Alpha__c")
        schema = Schema.load(project)
        assert schema.object("Alpha__c").key_prefix == "a00"
        assert schema.object("ExternalContact__c").key_prefix == "a01"
        assert schema.object("PhonebookFolder__c").key_prefix == "a02"

    def test_should_count_prefixes_in_base62(self):
        prefixes = custom_key_prefixes(f"O{i:03d}__c" for i in range(70))
        assert [prefixes[f"O{i:03d}__c"] for i in (0, 9, 10, 61, 62, 69)] == [
            "a00",
            "a09",
            "a0A",
            "a0z",
            "a10",
            "a17",
        ]

    def test_should_refuse_a_duplicate_prefix(self):
        one = ObjectDef("One__c", "One", "a00", True, {})
        two = ObjectDef("Two__c", "Two", "a00", True, {})
        with pytest.raises(ValueError, match="a00"):
            Schema({"One__c": one, "Two__c": two})


class TestStandardObjects:
    def test_should_relate_tasks_to_leads_contacts_and_activity_enabled_objects(self):
        task = default_schema().object("Task")
        assert set(task.field("WhoId").reference_to) == {"Lead", "Contact"}
        assert task.field("WhatId").reference_to == ("Account", "ExternalContact__c")
        assert task.field("WhoId").polymorphic and task.field("WhatId").polymorphic

    def test_should_default_task_status_and_owner_instead_of_requiring_them(self):
        task = default_schema().object("Task")
        status = task.field("Status")
        assert not status.nillable and status.default_value == "Not Started" and not status.required_on_create
        assert status.picklist_values == (
            "Not Started",
            "In Progress",
            "Completed",
            "Waiting on someone else",
            "Deferred",
        )
        assert task.field("Priority").default_value == "Normal"
        assert not task.field("OwnerId").required_on_create
        assert task.required_on_create == ()

    def test_should_keep_derived_task_fields_read_only(self):
        task = default_schema().object("Task")
        for name in (
            "AccountId",
            "IsClosed",
            "CreatedDate",
            "LastModifiedDate",
            "SystemModstamp",
            "IsDeleted",
        ):
            assert not task.field(name).createable and not task.field(name).updateable, name
        subtype = task.field("TaskSubtype")
        assert subtype.createable and not subtype.updateable
        assert subtype.picklist_values == ("Task", "Email", "ListEmail", "Cadence", "Call")

    def test_should_require_what_salesforce_requires_on_insert(self):
        schema = default_schema()
        assert set(schema.object("Lead").required_on_create) == {"LastName", "Company"}
        assert schema.object("Contact").required_on_create == ("LastName",)
        # Business accounts need Name, person accounts LastName: the emulator decides.
        assert schema.object("Account").required_on_create == ()
        assert schema.object("ExternalContact__c").required_on_create == ()
        assert schema.object("Lead").field("Status").default_value == "Open - Not Contacted"

    def test_should_model_person_accounts(self):
        account = default_schema().object("Account")
        assert account.field("PersonContactId").reference_to == ("Contact",)
        assert not account.field("IsPersonAccount").createable
        assert default_schema().object("Contact").field("IsPersonAccount").type == "boolean"


class TestDescribe:
    def test_should_describe_task_like_the_rest_api(self):
        body = default_schema().object("Task").describe()
        assert {
            "name",
            "label",
            "keyPrefix",
            "custom",
            "createable",
            "updateable",
            "queryable",
            "fields",
            "urls",
        } <= set(body)
        assert (body["name"], body["keyPrefix"], body["custom"]) == ("Task", "00T", False)
        assert body["urls"]["sobject"] == "/services/data/v62.0/sobjects/Task"
        assert body["urls"]["rowTemplate"] == "/services/data/v62.0/sobjects/Task/{ID}"
        fields = {f["name"]: f for f in body["fields"]}
        key = fields["ActivityKey__c"]
        assert key["externalId"] is True and key["unique"] is True and key["idLookup"] is True
        assert (key["type"], key["length"], key["custom"], key["soapType"]) == (
            "string",
            100,
            True,
            "xsd:string",
        )
        assert fields["WhoId"]["referenceTo"] == ["Contact", "Lead"]
        assert fields["WhoId"]["relationshipName"] == "Who"
        status = fields["Status"]
        assert [v["value"] for v in status["picklistValues"] if v["defaultValue"]] == ["Not Started"]
        assert status["defaultedOnCreate"] is True and status["nillable"] is False
        assert fields["MessageCount__c"]["type"] == "double"
        assert (fields["MessageCount__c"]["precision"], fields["MessageCount__c"]["scale"]) == (8, 0)

    def test_should_describe_a_custom_object_with_its_system_fields(self):
        schema = default_schema()
        body = schema.object("ExternalContact__c").describe(schema.api_version)
        assert (body["name"], body["label"], body["keyPrefix"], body["custom"]) == (
            "ExternalContact__c",
            "社外連絡先",
            "a00",
            True,
        )
        fields = {f["name"]: f for f in body["fields"]}
        assert {"Id", "Name", "OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate"} <= set(fields)
        assert {"LastModifiedById", "SystemModstamp", "IsDeleted"} <= set(fields)
        assert fields["Id"]["type"] == "id" and not fields["Id"]["createable"]
        assert fields["Name"]["nameField"] is True and fields["Name"]["label"] == "社外連絡先名"
        assert fields["OwnerId"]["relationshipName"] == "Owner"
        assert fields["Folder__c"]["referenceTo"] == ["PhonebookFolder__c"]
        assert fields["Folder__c"]["relationshipName"] == "Folder__r"
        assert fields["LineWorksContactId__c"]["externalId"] is True
        folder = schema.object("PhonebookFolder__c").describe()
        assert folder["childRelationships"][0]["relationshipName"] == "ExternalContacts__r"
        kinds = {f["name"]: f for f in folder["fields"]}["Type__c"]["picklistValues"]
        assert [(v["value"], v["label"], v["defaultValue"]) for v in kinds] == [
            ("Shared", "共有", False),
            ("Personal", "個人", True),
            ("Team", "チーム", False),
        ]

    def test_should_list_every_object_in_the_global_describe(self):
        body = default_schema().describe_global()
        assert {o["name"] for o in body["sobjects"]} == set(default_schema().objects)
        assert all("fields" not in o for o in body["sobjects"])

    def test_should_describe_a_field_built_by_hand(self):
        field = FieldDef("Note__c", "textarea", "Note", length=1000, custom=True)
        body = field.describe()
        assert (body["name"], body["type"], body["length"], body["filterable"]) == (
            "Note__c",
            "textarea",
            1000,
            False,
        )


class TestLoading:
    def test_should_cache_the_default_schema(self):
        assert default_schema() is default_schema()

    def test_should_load_the_same_schema_from_a_path_string(self):
        schema = Schema.load(str(SFDX))
        assert set(schema.objects) == set(default_schema().objects)
        assert schema.object("Task").fields.keys() == default_schema().object("Task").fields.keys()

    def test_should_add_activity_enabled_objects_to_what_id(self, project: Path):
        _add_object(project, "Visit__c", activities=True)
        _add_object(project, "Note__c", activities=False)
        what = Schema.load(project).object("Task").field("WhatId").reference_to
        assert what == ("Account", "ExternalContact__c", "Visit__c")

    def test_should_give_detail_objects_no_owner(self, project: Path):
        folder = _add_object(project, "Line__c")
        _add_field(
            folder,
            "Contact__c",
            "<referenceTo>ExternalContact__c</referenceTo><relationshipName>Lines</relationshipName>"
            "<type>MasterDetail</type>",
        )
        schema = Schema.load(project)
        line = schema.object("Line__c")
        assert line.field("OwnerId") is None
        assert line.field("Contact__c").required_on_create and line.field("Contact__c").cascade_delete
        assert schema.object("ExternalContact__c").child_relationship("Lines__r").cascade_delete

    def test_should_read_auto_number_names_as_read_only(self, project: Path):
        _add_object(project, "Ticket__c", name_type="AutoNumber")
        name = Schema.load(project).object("Ticket__c").field("Name")
        assert name.auto_number and not name.createable and not name.required_on_create

    def test_should_refuse_fields_on_an_unmodelled_standard_object(self, project: Path):
        folder = project / "force-app" / "main" / "default" / "objects" / "Opportunity"
        _add_field(folder, "Score__c", "<type>Number</type><precision>3</precision><scale>0</scale>")
        with pytest.raises(ValueError, match="Opportunity"):
            Schema.load(project)

    def test_should_refuse_malformed_xml_naming_the_file(self, project: Path):
        folder = project / "force-app" / "main" / "default" / "objects" / "ExternalContact__c"
        (folder / "fields" / "Broken__c.field-meta.xml").write_text("<CustomField>", encoding="utf-8")
        with pytest.raises(ValueError, match="Broken__c.field-meta.xml"):
            Schema.load(project)

    def test_should_refuse_an_unsupported_field_type(self, project: Path):
        folder = project / "force-app" / "main" / "default" / "objects" / "ExternalContact__c"
        _add_field(folder, "Where__c", "<type>Location</type>")
        with pytest.raises(ValueError, match="'Location'"):
            Schema.load(project)

    def test_should_refuse_a_project_without_objects(self, tmp_path: Path):
        with pytest.raises(FileNotFoundError):
            Schema.load(tmp_path)
