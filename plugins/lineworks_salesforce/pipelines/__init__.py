"""The talk-log pipeline's steps, independent of Airflow: archive → resolve → build → load (DESIGN §1).

Every way a message enters — scheduled run, backfill, range import, file import — calls these same
functions, so keys and results are the same whichever path saw a message first. The steps talk to
LINE WORKS and Salesforce through the objects they are given (the hooks in production and tests).
One module per step: :mod:`.archiving`, :mod:`.resolution`, :mod:`.building`, :mod:`.loading`; the
history import's form and re-rendering in :mod:`.history`, file imports in :mod:`.file_import`, the
archive's sources in :mod:`.provenance`; what they share in :mod:`.common`.
"""

from lineworks_salesforce.links import fetch_links
from lineworks_salesforce.pipelines.archiving import Source, archive_file
from lineworks_salesforce.pipelines.building import build
from lineworks_salesforce.pipelines.common import ActivityUploader, LineWorksClient, Run, SalesforceClient
from lineworks_salesforce.pipelines.history import (
    EARLIEST_HISTORY_DAY,
    HISTORY_MODES,
    HistoryFormError,
    HistoryRequest,
    history_request,
    mark_for_rerender,
)
from lineworks_salesforce.pipelines.loading import load
from lineworks_salesforce.pipelines.provenance import find_source, forget_source, list_sources, source_lines
from lineworks_salesforce.pipelines.resolution import refresh_directory, resolve, store_directory

__all__ = [
    "ActivityUploader",
    "EARLIEST_HISTORY_DAY",
    "HISTORY_MODES",
    "HistoryFormError",
    "HistoryRequest",
    "LineWorksClient",
    "Run",
    "SalesforceClient",
    "Source",
    "archive_file",
    "build",
    "fetch_links",
    "find_source",
    "forget_source",
    "history_request",
    "list_sources",
    "load",
    "mark_for_rerender",
    "refresh_directory",
    "resolve",
    "source_lines",
    "store_directory",
]
