"""Loading: the outbox upserted to Salesforce in slices; stale parts deleted."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from lineworks_salesforce.pipelines.common import (
    ActivityUploader,
    Run,
    SalesforceClient,
    _calls,
    _log,
)


def load(run: Run, loader: ActivityUploader) -> dict[str, Any]:
    """Upsert the outbox in slices; store Salesforce ids, hashes and rejections; empty the outbox.

    Each slice of ``load_batch_records`` records is one batch of ``upsert_activity_batches`` (one Bulk
    API 2.0 job when it is large) and one archive transaction, so memory stays bounded however large the
    outbox is (a history import) and a killed task keeps the slices it finished. The hook sends the next
    slice before this step stores the current one, so Salesforce works while the archive is written.

    First, the Tasks of parts an hour no longer has (``build``'s stale parts) are deleted.
    """
    totals: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    totals.update(_delete_stale_parts(run, loader.hook))
    slices = 0
    org_seconds = wait_seconds = 0.0
    outboxes: list[list[dict[str, Any]]] = []  # slices read and sent, not stored yet (in order)

    def batches() -> Iterator[list[dict]]:
        after = ""
        while outbox := run.archive.query(
            "outbox_slice", {"after": after, "limit": run.settings.load_batch_records}
        ):
            outboxes.append(outbox)
            after = outbox[-1]["activity_key"]
            yield [json.loads(r["record"]) for r in outbox]

    for report in loader.upsert_activity_batches(batches(), key_field="ActivityKey__c"):
        outbox = outboxes.pop(0)
        rows = []
        for r in outbox:
            result = report.results[r["activity_key"]]
            rows.append(
                {
                    "activity_key": r["activity_key"],
                    "contact_id": r["contact_id"],
                    "hour_bucket": r["hour_bucket"],
                    "content_hash": r["content_hash"],
                    "sf_id": result.id,
                    "status": result.status,
                    "error_code": result.error_code,
                    "error_message": result.message,
                    "run_id": run.run_id,
                }
            )
        with run.archive.transaction() as conn:
            run.archive.execute_many("upsert_activity", rows, conn)
            run.archive.execute_many(
                "delete_outbox", ({"activity_key": r["activity_key"]} for r in outbox), conn
            )
        slices += 1
        totals.update(r["status"] for r in rows)
        totals["salesforce_calls"] += report.api_calls
        org_seconds += report.bulk_processing_seconds
        wait_seconds += report.bulk_poll_wait_seconds
        rejected.update(r["error_code"] for r in rows if r["status"] == "rejected")
        if slices > 1 or len(outbox) == run.settings.load_batch_records:
            _log.info("load: slice %d done (%d records, %s)", slices, len(outbox), report.summary())
    return {
        "created": totals["created"],
        "updated": totals["updated"],
        "rejected": totals["rejected"],
        "deleted": totals["deleted"],
        "delete_refused": totals["delete_refused"],
        "salesforce_calls": totals["salesforce_calls"],
        "rejected_codes": dict(rejected),
        "slices": slices,
        "bulk_processing_seconds": round(org_seconds, 1),  # as Salesforce reports it
        "bulk_poll_wait_seconds": round(wait_seconds, 1),
    }


def _delete_stale_parts(run: Run, salesforce: SalesforceClient) -> Counter[str]:
    """Delete the Tasks of stale parts; a part whose Task is gone leaves the archive in one transaction.

    A part that never reached Salesforce (no Id stored) just leaves the list. A refused delete stays on
    it, counted as ``delete_refused`` (its code in the log), and is tried again by the next load.
    """
    stale = run.archive.query("stale_parts")
    if not stale:
        return Counter()
    calls = _calls(salesforce)
    ids = [r["sf_id"] for r in stale if r["sf_id"]]
    results = {r.key: r for r in salesforce.delete_records(ids)} if ids else {}
    gone = [{"activity_key": r["activity_key"]} for r in stale if not r["sf_id"] or results[r["sf_id"]].ok]
    refused = [results[i] for i in ids if not results[i].ok]
    with run.archive.transaction() as conn:
        run.archive.execute_many("delete_activity", gone, conn)
        run.archive.execute_many("delete_stale_part", gone, conn)
    if refused:
        codes = Counter(r.error_code for r in refused)
        _log.warning("load: %d stale part(s) could not be deleted: %s", len(refused), dict(codes))
    _log.info("load: %d stale part(s) deleted", len(gone))
    return Counter(
        {"deleted": len(gone), "delete_refused": len(refused), "salesforce_calls": _calls(salesforce) - calls}
    )
