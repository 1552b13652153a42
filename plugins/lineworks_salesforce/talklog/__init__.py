"""Talk-log domain package: Monitoring CSV parsing, person cells, message/activity keys, doctor,
file provenance (``file_sha256``).

Pure Python (pandas, numpy); no Airflow import, so it runs from a CLI
(``python -m lineworks_salesforce.talklog.doctor FILE``) and in any task.
"""

from lineworks_salesforce.talklog.csvparse import (
    MESSAGE_COLUMNS,
    QUARANTINE_COLUMNS,
    REASONS,
    DownloadTrailerError,
    MessageCsvParser,
    ParsedChunk,
    ParseSettings,
    TalkLogInternalError,
    UnknownHeaderError,
    content_kind,
    parse_message_csv,
)
from lineworks_salesforce.talklog.keys import hour_bucket, message_key
from lineworks_salesforce.talklog.people import Person, parse_person, split_recipients
from lineworks_salesforce.talklog.provenance import file_sha256

__all__ = [
    "MESSAGE_COLUMNS",
    "QUARANTINE_COLUMNS",
    "REASONS",
    "DownloadTrailerError",
    "MessageCsvParser",
    "ParseSettings",
    "ParsedChunk",
    "Person",
    "TalkLogInternalError",
    "UnknownHeaderError",
    "content_kind",
    "file_sha256",
    "hour_bucket",
    "message_key",
    "parse_message_csv",
    "parse_person",
    "split_recipients",
]
