"""Salesforce wire errors: each class carries the HTTP status and ``errorCode`` the real API returns.

REST answers a JSON array ``[{"message", "errorCode", "fields"}]``; per-record results of
sObject Collections and Bulk carry ``{"statusCode", "message", "fields"}`` instead.
"""

from __future__ import annotations


class SalesforceError(Exception):
    """A whole-request error."""

    status = 400
    error_code = "BAD_REQUEST"

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        status: int | None = None,
        fields: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code
        if status is not None:
            self.status = status
        self.fields = fields or []

    def body(self) -> list[dict]:
        return [{"message": self.message, "errorCode": self.error_code, "fields": self.fields}]


class MalformedQuery(SalesforceError):
    error_code = "MALFORMED_QUERY"


class InvalidField(SalesforceError):
    error_code = "INVALID_FIELD"


class InvalidType(SalesforceError):
    error_code = "INVALID_TYPE"


class JsonParserError(SalesforceError):
    error_code = "JSON_PARSER_ERROR"


class InvalidSession(SalesforceError):
    status = 401
    error_code = "INVALID_SESSION_ID"

    def __init__(self, message: str = "Session expired or invalid") -> None:
        super().__init__(message)


class RequestLimitExceeded(SalesforceError):
    status = 403
    error_code = "REQUEST_LIMIT_EXCEEDED"

    def __init__(self, message: str = "TotalRequests Limit exceeded.") -> None:
        super().__init__(message)


class NotFound(SalesforceError):
    status = 404
    error_code = "NOT_FOUND"


class MethodNotAllowed(SalesforceError):
    status = 405
    error_code = "METHOD_NOT_ALLOWED"


class ServerUnavailable(SalesforceError):
    status = 503
    error_code = "SERVER_UNAVAILABLE"


class NotImplementedBySandbox(SalesforceError):
    """Loud answer for anything the sandbox does not emulate (never a silent 200)."""

    status = 501
    error_code = "NOT_IMPLEMENTED"


class RecordError(Exception):
    """A per-record failure (``statusCode``) of a save: validation, duplicates, locks."""

    def __init__(self, status_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.status_code, self.message, self.fields = status_code, message, fields or []

    def result(self) -> dict:
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}

    def as_request_error(self) -> SalesforceError:
        """A single-record REST call answers the record's error as a whole-request 400."""
        return SalesforceError(self.message, error_code=self.status_code, fields=self.fields)


class OAuthError(Exception):
    """Token endpoint error ``{error, error_description}``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}
