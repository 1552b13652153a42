"""What every step of the pipeline shares: the ``Run``, the clients' protocols, small helpers."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd

from lineworks_salesforce.archive import Archive
from lineworks_salesforce.settings import Settings
from lineworks_salesforce.talklog.keys import hour_bucket

_log = logging.getLogger("lineworks_salesforce.pipelines")


class LineWorksClient(Protocol):
    def list_users(self) -> Any: ...
    def list_friends(self) -> Any: ...


class SalesforceClient(Protocol):
    """The Salesforce hook (``hooks.salesforce.SalesforceActivityHook``): one method per remote operation."""

    budget: Any  # .spent: API calls this client has made (hooks.salesforce.ApiBudget)

    def query_batch(self, queries: list[str]) -> list[list[dict[str, Any]]]: ...  # records per query
    def delete_records(self, ids: list[str]) -> list[Any]: ...  # RecordResult per id: deleted | rejected


class ActivityUploader(Protocol):
    """The activity loader (``hooks.activity_loader.ActivityLoader``) and the hook it sends through."""

    hook: SalesforceClient

    def upsert_activity_batches(
        self, batches: Iterable[list[dict]], key_field: str = ...
    ) -> Iterator[Any]: ...  # one report per batch, in order


@dataclass(frozen=True)
class Run:
    """What every step needs: the archive, the settings, the run's id and the LINE WORKS domain."""

    archive: Archive
    settings: Settings
    run_id: str
    domain_id: str

    def hours(self, ts: pd.Series) -> pd.Series:
        """The org-local hour of each instant as ``YYYYMMDDHH`` (the archive's hour buckets)."""
        # a few hundred distinct hours among many instants: each is formatted once
        codes, hours = pd.factorize(hour_bucket(ts, self.settings.timezone), use_na_sentinel=False)
        labels = np.asarray(hours.strftime("%Y%m%d%H"), dtype=object)
        return pd.Series(labels[codes], index=ts.index, dtype=object)


def _iso(series: pd.Series) -> pd.Series:
    return series.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_one(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_dt(moment: datetime | None) -> str | None:
    return None if moment is None else _iso_one(pd.Timestamp(moment))


def _utc_stamp(moment: datetime | None) -> str:
    return pd.Timestamp(moment).tz_convert("UTC").strftime("%Y%m%dT%H%M%SZ")


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    return frame[columns].to_dict("records")


def _calls(salesforce: SalesforceClient) -> int:
    return int(salesforce.budget.spent)


def _count(run: Run, statement: str) -> int:
    """The single number a counting statement of ``archive.sql`` returns."""
    return int(next(iter(run.archive.query(statement)[0].values())))
