"""Typed errors of the hooks: each carries the remote HTTP status and error code."""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException


class LineWorksApiError(AirflowException):
    """A LINE WORKS API call failed; ``status``, ``code`` and ``description`` come from the answer."""

    retryable = False

    def __init__(self, status: int | None, code: str, description: str, *, operation: str = "") -> None:
        self.status, self.code, self.description, self.operation = status, code, description, operation
        where = f"{operation}: " if operation else ""
        super().__init__(
            f"{where}HTTP {status} {code}: {description}" if status else f"{where}{code}: {description}"
        )


class LineWorksAuthError(LineWorksApiError):
    """The token endpoint refused the credentials (bad key, client secret, scopes...)."""


class LineWorksTransientError(LineWorksApiError):
    """A retryable failure (429, 5xx, connection reset) that persisted through the hook's own retries.

    Airflow's task retries are the next layer: the condition is expected to clear.
    """

    retryable = True


class LineWorksRateLimited(LineWorksTransientError):
    """HTTP 429 ``TOO_MANY_REQUESTS`` persisted through the hook's retries."""


class LineWorksDownloadError(LineWorksTransientError):
    """A log download ended with the ``downloadLogs error`` trailer; no partial file is kept."""


class LineWorksPagingError(LineWorksApiError):
    """The API returned a cursor it had already returned: stopping instead of looping forever."""


class LineWorksLimitExceeded(LineWorksApiError):
    """A listing reached a documented cap (e.g. 50,000 contacts per operation) and may be truncated."""


class SalesforceApiError(AirflowException):
    """A Salesforce API request failed; ``status``, ``error_code`` and ``message`` come from the answer."""

    retryable = False

    def __init__(self, status: int | None, error_code: str, message: str, *, endpoint: str = "") -> None:
        self.status, self.error_code, self.message, self.endpoint = status, error_code, message, endpoint
        where = f"{endpoint}: " if endpoint else ""
        super().__init__(
            f"{where}HTTP {status} {error_code}: {message}" if status else f"{where}{error_code}: {message}"
        )


class SalesforceAuthError(SalesforceApiError):
    """The org's token endpoint refused the credentials, or the connection lacks some."""


class SalesforceTransientError(SalesforceApiError):
    """503, 5xx or connection resets persisted through the hook's retries; Airflow retries next."""

    retryable = True


class SalesforceApiLimitExceeded(SalesforceApiError):
    """403 ``REQUEST_LIMIT_EXCEEDED``: the org's daily API limit is exhausted; retry after it recovers."""


class SalesforceBudgetExceeded(SalesforceApiError):
    """The run stopped before using more than its configured share of the org's remaining daily API calls."""
