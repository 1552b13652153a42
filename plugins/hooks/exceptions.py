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
