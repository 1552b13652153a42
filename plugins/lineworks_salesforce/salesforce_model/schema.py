"""The Salesforce data model as Python objects, read from the project's SFDX source.

One schema serves three readers: the Salesforce sandbox (its describe responses and write rules),
the activity loader (which Task fields exist and how long the key may be) and the tests that keep
``salesforce/`` deployable. The SFDX files are the single source: standard objects come from
:mod:`lineworks_salesforce.salesforce_model.standard`, every custom object and custom field from
``<sfdx_dir>/force-app/main/default/objects``.

Rules taken from the platform (``shared/reference/airflow-salesforce.md`` §8 and the Metadata API):

* Field and object names are case-insensitive in SOQL and REST, so every lookup here is too.
* Custom fields of Task live on the ``Activity`` object in metadata; they are merged into Task
  (Event is not modelled).
* A custom lookup ``Folder__c`` is reached from the child as ``Folder__r``; the metadata element
  ``relationshipName`` is the *child* relationship name seen from the parent (``ExternalContacts__r``).
* Custom objects get the system fields Salesforce adds (Id, Name, OwnerId, audit fields, IsDeleted).
* ``Task.WhatId`` may point at Account and at every custom object with ``enableActivities``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

METADATA_NS = "http://soap.sforce.com/2006/04/metadata"
DEFAULT_API_VERSION = "62.0"
OBJECTS_SUBDIR = Path("force-app", "main", "default", "objects")

# Metadata folders whose custom fields belong to another (modelled) object.
FIELD_HOSTS: dict[str, str] = {"Activity": "Task"}

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_Q = "{%s}" % METADATA_NS

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}
_STRING_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist", "multipicklist"})


@dataclass(frozen=True)
class FieldDef:
    """One field as Salesforce describes it.

    ``required_on_create`` is what makes an insert without the field fail with
    ``REQUIRED_FIELD_MISSING``: not nillable, createable, and no default from the platform.
    ``defaulted_on_create`` marks fields the platform fills itself (OwnerId, audit fields, picklists
    with a default, a custom object's Name).
    """

    name: str
    type: str
    label: str
    length: int = 0
    precision: int = 0
    scale: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    required_on_create: bool = False
    default_value: object = None
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist_values: tuple[str, ...] = ()
    restricted_picklist: bool = False
    custom: bool = False
    # Beyond the core API: what describe() needs to be faithful.
    picklist_labels: tuple[str, ...] = ()
    defaulted_on_create: bool = False
    child_relationship_name: str | None = None
    cascade_delete: bool = False
    name_field: bool = False
    auto_number: bool = False
    description: str = ""

    @property
    def is_reference(self) -> bool:
        return self.type == "reference"

    @property
    def polymorphic(self) -> bool:
        return len(self.reference_to) > 1

    def picklist_label(self, value: str) -> str:
        if value in self.picklist_values and len(self.picklist_labels) == len(self.picklist_values):
            return self.picklist_labels[self.picklist_values.index(value)]
        return value

    def describe(self) -> dict[str, Any]:
        """The field entry of ``GET /sobjects/X/describe/``."""
        long_text = self.type == "textarea" and self.length > 255
        filterable = not long_text
        picklist_default = self.default_value if self.type in ("picklist", "multipicklist") else None
        return {
            "aggregatable": filterable and self.type not in ("boolean",),
            "autoNumber": self.auto_number,
            "byteLength": self.length * 3 if self.type in _STRING_TYPES else (18 if self.length else 0),
            "calculated": False,
            "caseSensitive": self.case_sensitive,
            "cascadeDelete": self.cascade_delete,
            "createable": self.createable,
            "custom": self.custom,
            # Picklist defaults travel in picklistValues, as in real describe output.
            "defaultValue": None if picklist_default is not None else self.default_value,
            "defaultedOnCreate": self.defaulted_on_create or self.default_value is not None,
            "digits": 0,
            "externalId": self.external_id,
            "filterable": filterable,
            "groupable": filterable and self.type not in ("double", "datetime", "currency", "percent"),
            "htmlFormatted": False,
            "idLookup": self.type == "id" or self.external_id,
            "label": self.label,
            "length": self.length,
            "name": self.name,
            "nameField": self.name_field,
            "nillable": self.nillable,
            "permissionable": self.nillable and self.type != "id",
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == picklist_default,
                    "label": self.picklist_label(value),
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist_values
            ],
            "polymorphicForeignKey": self.polymorphic,
            "precision": self.precision,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "restrictedPicklist": self.restricted_picklist,
            "scale": self.scale,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": filterable,
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


@dataclass(frozen=True)
class ChildRelationship:
    """A parent-to-child relationship, e.g. ``PhonebookFolder__c.ExternalContacts__r``."""

    child_sobject: str
    field: str
    relationship_name: str | None
    cascade_delete: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "cascadeDelete": self.cascade_delete,
            "childSObject": self.child_sobject,
            "deprecatedAndHidden": False,
            "field": self.field,
            "relationshipName": self.relationship_name,
            "restrictedDelete": False,
        }


@dataclass(frozen=True)
class ObjectDef:
    """One sObject type; field lookups ignore case, as SOQL and REST do."""

    name: str
    label: str
    key_prefix: str
    custom: bool
    fields: dict[str, FieldDef]
    label_plural: str = ""
    activities_enabled: bool = False
    sharing_model: str | None = None
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    queryable: bool = True
    child_relationships: tuple[ChildRelationship, ...] = ()
    description: str = ""
    _by_lower: dict[str, FieldDef] = field(init=False, repr=False, compare=False)
    _by_relationship: dict[str, FieldDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_lower", {name.lower(): f for name, f in self.fields.items()})
        object.__setattr__(
            self,
            "_by_relationship",
            {f.relationship_name.lower(): f for f in self.fields.values() if f.relationship_name},
        )

    def field(self, name: str) -> FieldDef | None:
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field behind a child-to-parent relationship name (``Owner`` -> OwnerId)."""
        return self._by_relationship.get(name.lower())

    def child_relationship(self, name: str) -> ChildRelationship | None:
        """A parent-to-child relationship by name (``ExternalContacts__r``), case-insensitive."""
        wanted = name.lower()
        for rel in self.child_relationships:
            if rel.relationship_name and rel.relationship_name.lower() == wanted:
                return rel
        return None

    @property
    def required_on_create(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields.values() if f.required_on_create)

    def describe(self, api_version: str = DEFAULT_API_VERSION) -> dict[str, Any]:
        """The body of ``GET /services/data/vXX.X/sobjects/X/describe/``."""
        base = f"/services/data/v{api_version}/sobjects/{self.name}"
        return {
            "activateable": False,
            "childRelationships": [rel.describe() for rel in self.child_relationships],
            "createable": self.createable,
            "custom": self.custom,
            "customSetting": False,
            "deletable": self.deletable,
            "feedEnabled": False,
            "fields": [f.describe() for f in self.fields.values()],
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural or self.label,
            "layoutable": True,
            "mergeable": self.name in ("Account", "Contact", "Lead"),
            "name": self.name,
            "queryable": self.queryable,
            "recordTypeInfos": [],
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": self.deletable,
            "updateable": self.updateable,
            "urls": {
                "compactLayouts": f"{base}/describe/compactLayouts",
                "describe": f"{base}/describe",
                "layouts": f"{base}/describe/layouts",
                "rowTemplate": f"{base}/{{ID}}",
                "sobject": base,
            },
        }


class Schema:
    """All modelled objects; :meth:`load` builds it from an SFDX project."""

    def __init__(self, objects: Mapping[str, ObjectDef], api_version: str = DEFAULT_API_VERSION) -> None:
        self.objects: dict[str, ObjectDef] = dict(objects)
        self.api_version = api_version
        self._by_lower = {name.lower(): obj for name, obj in self.objects.items()}
        self._by_prefix: dict[str, ObjectDef] = {}
        for obj in self.objects.values():
            if obj.key_prefix in self._by_prefix:
                other = self._by_prefix[obj.key_prefix].name
                raise ValueError(f"key prefix {obj.key_prefix!r} is used by both {other} and {obj.name}")
            self._by_prefix[obj.key_prefix] = obj

    def __repr__(self) -> str:
        return f"Schema({sorted(self.objects)!r}, api_version={self.api_version!r})"

    def object(self, name: str) -> ObjectDef | None:
        return self._by_lower.get(name.lower())

    def by_prefix(self, key_prefix: str) -> ObjectDef | None:
        """The object whose records' Ids start with ``key_prefix`` (an Id is accepted too).

        Key prefixes are case-sensitive, like Ids.
        """
        return self._by_prefix.get(key_prefix[:3])

    def describe_global(self) -> dict[str, Any]:
        """The body of ``GET /services/data/vXX.X/sobjects/``."""
        sobjects = []
        for obj in sorted(self.objects.values(), key=lambda o: o.name):
            full = obj.describe(self.api_version)
            sobjects.append(
                {
                    key: full[key]
                    for key in full
                    if key not in ("fields", "childRelationships", "recordTypeInfos")
                }
            )
        return {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects}

    @classmethod
    def load(cls, sfdx_dir: str | Path) -> Schema:
        """Standard objects plus every custom object and field of the SFDX project at ``sfdx_dir``.

        :raises FileNotFoundError: ``sfdx_dir`` has no ``force-app/main/default/objects``.
        :raises ValueError: a metadata file is malformed, uses an unsupported field type, or adds
            fields to a standard object that :mod:`lineworks_salesforce.salesforce_model.standard` does not
            model.
        """
        # Imported here: standard.py builds on the dataclasses above.
        from lineworks_salesforce.salesforce_model import standard

        root = Path(sfdx_dir)
        objects_dir = root / OBJECTS_SUBDIR
        if not objects_dir.is_dir():
            raise FileNotFoundError(f"no SFDX objects folder at {objects_dir}")
        api_version = _api_version(root / "sfdx-project.json")

        custom: dict[str, ObjectDef] = {}
        extra_fields: dict[str, list[FieldDef]] = {}
        for folder in sorted(p for p in objects_dir.iterdir() if p.is_dir()):
            fields = [parse_field_file(p) for p in sorted((folder / "fields").glob("*.field-meta.xml"))]
            object_file = folder / f"{folder.name}.object-meta.xml"
            if folder.name.endswith("__c"):
                if not object_file.is_file():
                    raise ValueError(f"custom object folder {folder} has no {object_file.name}")
                custom[folder.name] = parse_object_file(object_file, fields)
            elif fields:
                extra_fields.setdefault(FIELD_HOSTS.get(folder.name, folder.name), []).extend(fields)

        prefixes = custom_key_prefixes(custom)
        custom = {name: replace(obj, key_prefix=prefixes[name]) for name, obj in custom.items()}
        activity_targets = sorted(name for name, obj in custom.items() if obj.activities_enabled)
        objects: dict[str, ObjectDef] = standard.standard_objects(what_targets=activity_targets)

        for host, fields in extra_fields.items():
            obj = objects.get(host)
            if obj is None:
                names = ", ".join(f.name for f in fields)
                raise ValueError(
                    f"custom fields ({names}) on standard object {host}, which "
                    "lineworks_salesforce.salesforce_model.standard does not model; add it there first"
                )
            objects[host] = _with_fields(obj, fields)
        objects.update(custom)
        return cls(_link_children(objects), api_version=api_version)


@lru_cache(maxsize=1)
def default_schema() -> Schema:
    """The schema of this repository's ``salesforce/`` folder, loaded once per process."""
    return Schema.load(Path(__file__).resolve().parents[3] / "salesforce")


def custom_key_prefixes(names: Iterable[str]) -> dict[str, str]:
    """``a00``, ``a01``, … ``a0z``, ``a10`` … in sorted order of the object names."""
    out = {}
    for i, name in enumerate(sorted(names)):
        out[name] = "a" + _BASE62[i // 62] + _BASE62[i % 62]
    return out


# ---------------------------------------------------------------------------------------------
# Metadata parsing


def _text(elem: ET.Element, tag: str, default: str = "") -> str:
    found = elem.find(_Q + tag)
    return default if found is None or found.text is None else found.text.strip()


def _flag(elem: ET.Element, tag: str, default: bool = False) -> bool:
    value = _text(elem, tag)
    return default if not value else value.lower() == "true"


def _int(elem: ET.Element, tag: str, default: int = 0) -> int:
    value = _text(elem, tag)
    return int(value) if value else default


def _root(path: Path, expected: str) -> ET.Element:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{path}: not well-formed XML: {exc}") from exc
    if root.tag != _Q + expected:
        raise ValueError(f"{path}: expected <{expected} xmlns={METADATA_NS!r}>, found {root.tag!r}")
    return root


def _api_version(project_file: Path) -> str:
    if not project_file.is_file():
        return DEFAULT_API_VERSION
    return str(
        json.loads(project_file.read_text(encoding="utf-8")).get("sourceApiVersion", DEFAULT_API_VERSION)
    )


def parse_field_file(path: str | Path) -> FieldDef:
    """A ``CustomField`` (``*.field-meta.xml``) as the describe call would show it."""
    path = Path(path)
    root = _root(path, "CustomField")
    name = _text(root, "fullName") or path.name.removesuffix(".field-meta.xml")
    if name != path.name.removesuffix(".field-meta.xml"):
        raise ValueError(f"{path}: fullName {name!r} does not match the file name")
    if not name.endswith("__c"):
        raise ValueError(f"{path}: custom field names end with __c, got {name!r}")
    kind = _text(root, "type")
    try:
        return _FIELD_PARSERS[kind](root, name, path)
    except KeyError:
        raise ValueError(
            f"{path}: field type {kind!r} is not supported by lineworks_salesforce.salesforce_model"
        ) from None


def _common(root: ET.Element, name: str) -> dict[str, Any]:
    required = _flag(root, "required")
    return {
        "name": name,
        "label": _text(root, "label", name),
        "nillable": not required,
        "required_on_create": required,
        "external_id": _flag(root, "externalId"),
        "unique": _flag(root, "unique"),
        "case_sensitive": _flag(root, "caseSensitive"),
        "custom": True,
        "description": _text(root, "description"),
    }


def _default_text(root: ET.Element) -> str | None:
    value = _text(root, "defaultValue")
    return value or None


def _parse_text(root: ET.Element, name: str, path: Path) -> FieldDef:
    length = _int(root, "length")
    if not 1 <= length <= 255:
        raise ValueError(f"{path}: Text fields need a length of 1..255, got {length}")
    return FieldDef(type="string", length=length, **_common(root, name))


def _parse_textarea(root: ET.Element, name: str, path: Path) -> FieldDef:
    return FieldDef(type="textarea", length=255, **_common(root, name))


def _parse_long_textarea(root: ET.Element, name: str, path: Path) -> FieldDef:
    return FieldDef(type="textarea", length=_int(root, "length", 32768), **_common(root, name))


def _fixed(kind: str, length: int):
    def parse(root: ET.Element, name: str, path: Path) -> FieldDef:
        return FieldDef(type=kind, length=length, **_common(root, name))

    return parse


def _parse_number(kind: str):
    def parse(root: ET.Element, name: str, path: Path) -> FieldDef:
        precision, scale = _int(root, "precision", 18), _int(root, "scale", 0)
        if not 0 <= scale <= precision <= 18:
            raise ValueError(f"{path}: precision/scale must satisfy 0 <= scale <= precision <= 18")
        return FieldDef(type=kind, precision=precision, scale=scale, **_common(root, name))

    return parse


def _parse_checkbox(root: ET.Element, name: str, path: Path) -> FieldDef:
    attrs = _common(root, name)
    attrs.update(nillable=False, required_on_create=False)
    return FieldDef(type="boolean", default_value=_default_text(root) == "true", **attrs)


def _parse_date(kind: str):
    def parse(root: ET.Element, name: str, path: Path) -> FieldDef:
        return FieldDef(type=kind, **_common(root, name))

    return parse


def _parse_picklist(kind: str):
    def parse(root: ET.Element, name: str, path: Path) -> FieldDef:
        value_set = root.find(_Q + "valueSet")
        definition = None if value_set is None else value_set.find(_Q + "valueSetDefinition")
        if definition is None:
            raise ValueError(f"{path}: only picklists with an inline valueSetDefinition are supported")
        values, labels, default = [], [], None
        for value in definition.findall(_Q + "value"):
            api = _text(value, "fullName")
            values.append(api)
            labels.append(_text(value, "label", api))
            if _flag(value, "default"):
                default = api
        attrs = _common(root, name)
        if default is not None:
            attrs["required_on_create"] = False
        return FieldDef(
            type=kind,
            length=255 if kind == "picklist" else 4099,
            picklist_values=tuple(values),
            picklist_labels=tuple(labels),
            restricted_picklist=_flag(value_set, "restricted"),
            default_value=default,
            **attrs,
        )

    return parse


def _parse_reference(master_detail: bool):
    def parse(root: ET.Element, name: str, path: Path) -> FieldDef:
        target = _text(root, "referenceTo")
        if not target:
            raise ValueError(f"{path}: a relationship field needs <referenceTo>")
        attrs = _common(root, name)
        if master_detail:
            attrs.update(nillable=False, required_on_create=True)
        child = _text(root, "relationshipName")
        return FieldDef(
            type="reference",
            length=18,
            reference_to=(target,),
            # The child-to-parent name derives from the field (Folder__c -> Folder__r); the
            # metadata relationshipName names the parent's list of children.
            relationship_name=name.removesuffix("__c") + "__r",
            child_relationship_name=f"{child}__r" if child else None,
            cascade_delete=master_detail or _text(root, "deleteConstraint") == "Cascade",
            updateable=not master_detail or _flag(root, "reparentableMasterDetail"),
            **attrs,
        )

    return parse


def _parse_autonumber(root: ET.Element, name: str, path: Path) -> FieldDef:
    attrs = _common(root, name)
    attrs.update(nillable=False, required_on_create=False)
    return FieldDef(
        type="string",
        length=30,
        createable=False,
        updateable=False,
        auto_number=True,
        defaulted_on_create=True,
        **attrs,
    )


_FIELD_PARSERS = {
    "Text": _parse_text,
    "TextArea": _parse_textarea,
    "LongTextArea": _parse_long_textarea,
    "Html": _parse_long_textarea,
    "Email": _fixed("email", 80),
    "Phone": _fixed("phone", 40),
    "Url": _fixed("url", 255),
    "Number": _parse_number("double"),
    "Currency": _parse_number("currency"),
    "Percent": _parse_number("percent"),
    "Checkbox": _parse_checkbox,
    "Date": _parse_date("date"),
    "DateTime": _parse_date("datetime"),
    "Picklist": _parse_picklist("picklist"),
    "MultiselectPicklist": _parse_picklist("multipicklist"),
    "Lookup": _parse_reference(master_detail=False),
    "MasterDetail": _parse_reference(master_detail=True),
    "AutoNumber": _parse_autonumber,
}


def parse_object_file(path: str | Path, custom_fields: Iterable[FieldDef] = ()) -> ObjectDef:
    """A ``CustomObject`` with its system fields and ``custom_fields``; key prefix left empty."""
    path = Path(path)
    root = _root(path, "CustomObject")
    name = path.name.removesuffix(".object-meta.xml")
    custom_fields = list(custom_fields)
    name_field = root.find(_Q + "nameField")
    if name_field is None:
        raise ValueError(f"{path}: a custom object needs a <nameField>")
    name_label = _text(name_field, "label", "Name")
    if _text(name_field, "type", "Text") == "AutoNumber":
        name_def = FieldDef(
            "Name",
            "string",
            name_label,
            length=30,
            nillable=False,
            createable=False,
            updateable=False,
            defaulted_on_create=True,
            auto_number=True,
            name_field=True,
        )
    else:
        # Without a Name on insert Salesforce stores the record Id there, so it is not required.
        name_def = FieldDef(
            "Name", "string", name_label, length=80, nillable=False, defaulted_on_create=True, name_field=True
        )
    detail = any(f.is_reference and f.cascade_delete and not f.nillable for f in custom_fields)
    fields = system_fields(name_def, owned=not detail)
    for f in custom_fields:
        if f.name.lower() in {n.lower() for n in fields}:
            raise ValueError(f"{path}: field {f.name} is defined twice")
        fields[f.name] = f
    return ObjectDef(
        name=name,
        label=_text(root, "label", name),
        label_plural=_text(root, "pluralLabel"),
        key_prefix="",
        custom=True,
        fields=fields,
        activities_enabled=_flag(root, "enableActivities"),
        sharing_model=_text(root, "sharingModel") or None,
        description=_text(root, "description"),
    )


def system_fields(
    name_def: FieldDef | None, owned: bool = True, deletable: bool = True
) -> dict[str, FieldDef]:
    """Id, Name, OwnerId and the audit fields every record carries (OwnerId only if ``owned``)."""
    read_only = {"createable": False, "updateable": False, "nillable": False, "defaulted_on_create": True}
    fields = [FieldDef("Id", "id", "Record ID", length=18, **read_only)]
    if name_def is not None:
        fields.append(name_def)
    if owned:
        fields.append(
            FieldDef(
                "OwnerId",
                "reference",
                "Owner ID",
                length=18,
                nillable=False,
                defaulted_on_create=True,
                reference_to=("Group", "User"),
                relationship_name="Owner",
            )
        )
    if deletable:
        fields.append(FieldDef("IsDeleted", "boolean", "Deleted", **read_only))
    fields += [
        FieldDef("CreatedDate", "datetime", "Created Date", **read_only),
        FieldDef(
            "CreatedById",
            "reference",
            "Created By ID",
            length=18,
            reference_to=("User",),
            relationship_name="CreatedBy",
            **read_only,
        ),
        FieldDef("LastModifiedDate", "datetime", "Last Modified Date", **read_only),
        FieldDef(
            "LastModifiedById",
            "reference",
            "Last Modified By ID",
            length=18,
            reference_to=("User",),
            relationship_name="LastModifiedBy",
            **read_only,
        ),
        FieldDef("SystemModstamp", "datetime", "System Modstamp", **read_only),
    ]
    return {f.name: f for f in fields}


def _with_fields(obj: ObjectDef, extra: Iterable[FieldDef]) -> ObjectDef:
    fields = dict(obj.fields)
    for f in extra:
        if obj.field(f.name) is not None:
            raise ValueError(f"field {obj.name}.{f.name} is defined twice")
        fields[f.name] = f
    return replace(obj, fields=fields)


def _link_children(objects: dict[str, ObjectDef]) -> dict[str, ObjectDef]:
    """Give every parent the child relationships that point at it."""
    children: dict[str, list[ChildRelationship]] = {}
    for obj in objects.values():
        for f in obj.fields.values():
            if not f.child_relationship_name:
                continue
            for target in f.reference_to:
                children.setdefault(target, []).append(
                    ChildRelationship(obj.name, f.name, f.child_relationship_name, f.cascade_delete)
                )
    out = {}
    for name, obj in objects.items():
        rels = sorted(children.get(name, []), key=lambda r: (r.child_sobject, r.field))
        seen: dict[str, ChildRelationship] = {}
        for rel in rels:
            key = rel.relationship_name.lower()
            if key in seen:
                raise ValueError(
                    f"child relationship {name}.{rel.relationship_name} is used by both "
                    f"{seen[key].child_sobject}.{seen[key].field} and {rel.child_sobject}.{rel.field}"
                )
            seen[key] = rel
        out[name] = replace(obj, child_relationships=tuple(rels)) if rels else obj
    return out
