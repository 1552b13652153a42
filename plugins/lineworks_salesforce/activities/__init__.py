"""Talk lines -> Salesforce Task activities, one per LINE friend per hour (pure Python, no Airflow).

.. code-block:: python

    from lineworks_salesforce.activities import RenderSettings, render_activities

    result = render_activities(messages, links, RenderSettings(domain_id="10000001"))
    result.payloads  # ActivityKey__c -> the Task record's canonical JSON, for upsert by ActivityKey__c
    result.hashes  # ActivityKey__c -> content hash (of the payload), to skip unchanged records
    result.records  # the same records as dicts, decoded from the payloads on first use
    result.unlinked  # rows of friends not registered yet, kept for a later run
"""

from __future__ import annotations

from lineworks_salesforce.activities.keys import activity_key, parse_activity_key
from lineworks_salesforce.activities.redact import (
    CARD_NUMBER_PATTERN,
    REDACTED,
    RedactPattern,
    compile_patterns,
    redact_list,
    redact_series,
    redact_text,
)
from lineworks_salesforce.activities.render import (
    CONTINUATION_HEADER,
    CONTINUATION_INDENT,
    MESSAGE_COLUMNS,
    Part,
    RenderResult,
    RenderSettings,
    record_hash,
    render_activities,
    render_body,
    split_lines,
)

__all__ = [
    "activity_key",
    "parse_activity_key",
    "CARD_NUMBER_PATTERN",
    "CONTINUATION_HEADER",
    "CONTINUATION_INDENT",
    "MESSAGE_COLUMNS",
    "REDACTED",
    "Part",
    "RedactPattern",
    "RenderResult",
    "RenderSettings",
    "compile_patterns",
    "record_hash",
    "redact_list",
    "redact_series",
    "redact_text",
    "render_activities",
    "render_body",
    "split_lines",
]
