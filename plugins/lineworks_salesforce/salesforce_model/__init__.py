"""The Salesforce data model of lineworks-salesforce, read from the SFDX source in ``salesforce/``.

Pure Python (no Airflow import): used by the Salesforce sandbox for describe and write rules, by
the activity loader for field names and limits, and by the tests that keep ``salesforce/``
deployable.

.. code-block:: python

    from lineworks_salesforce.salesforce_model import default_schema

    task = default_schema().object("task")
    task.field("activitykey__c").external_id  # True
    task.relationship("Owner").name  # "OwnerId"
"""

from __future__ import annotations

from lineworks_salesforce.salesforce_model.activity import (
    DESCRIPTION_MAX,
    SUBJECT_DEFAULT,
    TASK_FIELDS_WRITTEN,
    TASK_KEY_FIELD,
    TASK_KEY_MAX_LENGTH,
    check_task_describe,
)
from lineworks_salesforce.salesforce_model.schema import (
    DEFAULT_API_VERSION,
    METADATA_NS,
    ChildRelationship,
    FieldDef,
    ObjectDef,
    Schema,
    default_schema,
)

__all__ = [
    "DEFAULT_API_VERSION",
    "DESCRIPTION_MAX",
    "METADATA_NS",
    "SUBJECT_DEFAULT",
    "TASK_FIELDS_WRITTEN",
    "TASK_KEY_FIELD",
    "TASK_KEY_MAX_LENGTH",
    "ChildRelationship",
    "FieldDef",
    "ObjectDef",
    "Schema",
    "check_task_describe",
    "default_schema",
]
