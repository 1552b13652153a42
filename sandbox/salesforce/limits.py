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

# Composite (POST /composite): up to 25 subrequests per call, of which up to 5 may be query operations
# (Query, QueryAll, Query More); the whole request counts as one call toward the API limits.
# https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-composite-post.html
COMPOSITE_MAX_SUBREQUESTS = 25
COMPOSITE_MAX_QUERIES = 5

# A REST call's URI and headers together: at most 16,384 bytes (414 / 431 above). Salesforce suggests
# sending a long SOQL statement inside a Composite request instead; whether a subrequest's url has a
# limit of its own is UNCONFIRMED, so the sandbox holds subrequest urls to the same 16,384 bytes.
# https://help.salesforce.com/s/articleView?id=000386264&type=1
REST_MAX_URI_BYTES = 16_384

# Request bodies: the sandbox's own caps. A JSON body (sObject Collections, composite, one record) up to
# 50 MB — UNCONFIRMED for REST (50 MB is the documented SOAP API request limit); 200 Task records of 32,000
# \u-escaped characters each fit. Token requests are small forms.
REST_JSON_MAX_BYTES = 50 * 1024 * 1024
TOKEN_FORM_MAX_BYTES = 64 * 1024
