"""Japanese name handling: normalisation (:mod:`.normalize`) and the 社外連絡先 search (:mod:`.search`)."""

from lineworks_salesforce.names.normalize import key, words
from lineworks_salesforce.names.search import (
    Candidate,
    NameQueryError,
    RepNotFound,
    anchors,
    find_rep,
    rank,
    search,
    search_soql,
)

__all__ = [
    "Candidate",
    "NameQueryError",
    "RepNotFound",
    "anchors",
    "find_rep",
    "key",
    "rank",
    "search",
    "search_soql",
    "words",
]
