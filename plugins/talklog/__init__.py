"""Talk-log domain package: Monitoring CSV parsing, person cells, message/activity keys, doctor.

Pure Python (pandas, numpy); no Airflow import, so it runs from a CLI
(``python -m talklog.doctor FILE``) and in any task.
"""

from talklog.csvparse import (
    MESSAGE_COLUMNS,
    QUARANTINE_COLUMNS,
    REASONS,
    DownloadTrailerError,
    MessageCsvParser,
    ParsedChunk,
    ParseSettings,
    UnknownHeaderError,
    content_kind,
    parse_message_csv,
)
from talklog.keys import activity_key, hour_bucket, message_key
from talklog.people import Person, parse_person, split_recipients

__all__ = [
    "MESSAGE_COLUMNS",
    "QUARANTINE_COLUMNS",
    "REASONS",
    "DownloadTrailerError",
    "MessageCsvParser",
    "ParseSettings",
    "ParsedChunk",
    "Person",
    "UnknownHeaderError",
    "activity_key",
    "content_kind",
    "hour_bucket",
    "message_key",
    "parse_message_csv",
    "parse_person",
    "split_recipients",
]
