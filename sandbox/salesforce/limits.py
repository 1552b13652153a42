"""Documented Salesforce limits the sandbox enforces, each with its source.

See ``shared/reference/airflow-salesforce.md`` §8.
"""

from __future__ import annotations

# sObject Collections: up to 200 records per call, one API call toward the limit.
# https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-upsert.html
COLLECTION_MAX = 200

# query / queryAll: records per batch before nextRecordsUrl (2,000 by default).
# https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm
QUERY_BATCH_SIZE = 2000

# SOQL OFFSET is capped at 2,000 (NUMBER_OUTSIDE_VALID_RANGE above it); enforced in soql.py.
SOQL_MAX_OFFSET = 2000

# Daily API allocation of an Enterprise org with no licences counted: 100,000 + 1,000 × licences.
# https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-api.html
DAILY_API_REQUESTS = 100_000

# Bulk API 2.0: one upload per job up to 150 MB; Bulk API v1: 10,000 records per batch.
# https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_api_2_limits.htm
BULK2_MAX_UPLOAD_BYTES = 150 * 1024 * 1024
BULK1_MAX_BATCH_RECORDS = 10_000

# Task.Description (Comments) is a 32,000-character text area (read from the schema, quoted for reference).
# https://developer.salesforce.com/docs/atlas.en-us.sfFieldRef.meta/sfFieldRef/salesforce_field_reference_Task.htm
TASK_DESCRIPTION_MAX = 32_000

# JWT bearer assertions: exp at most a few minutes ahead (3 minutes plus clock skew).
# https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm
JWT_MAX_EXP_SECONDS = 300
