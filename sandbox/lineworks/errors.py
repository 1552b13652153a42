"""LINE WORKS wire errors: each class carries the HTTP status and ``code`` the real API returns.

Body shape ``{"code": ..., "description": ...}`` per DOC:error-codes; serialized in one place
(``protocol.error_response``).
"""

from __future__ import annotations


class LineWorksError(Exception):
    """An API error answered as ``{code, description}``."""

    status = 400
    code = "BAD_REQUEST"

    def __init__(
        self,
        description: str,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        return {"code": self.code, "description": self.description}


class InvalidParameter(LineWorksError):
    code = "INVALID_PARAMETER"


class MissingParameter(LineWorksError):
    code = "MISSING_PARAMETER"


class OutOfRange(LineWorksError):
    code = "OUT_OF_RANGE"


class Unauthorized(LineWorksError):
    status = 401
    code = "UNAUTHORIZED"

    def __init__(self, description: str = "Authentication failed.", *, invalid_token: bool = True) -> None:
        # RFC 6750 challenge; the exact value LINE WORKS sends is UNCONFIRMED (lineworks-api.md §8.2).
        challenge = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
        super().__init__(description, headers={"WWW-Authenticate": challenge})


class Forbidden(LineWorksError):
    status = 403
    code = "FORBIDDEN"


class NotFound(LineWorksError):
    status = 404
    code = "NOT_FOUND"


class TooManyRequests(LineWorksError):
    status = 429
    code = "TOO_MANY_REQUESTS"

    def __init__(
        self, description: str = "API rate limit exceeded", *, headers: dict[str, str] | None = None
    ):
        super().__init__(description, headers=headers)


class InternalServerError(LineWorksError):
    status = 500
    code = "INTERNAL_SERVER_ERROR"


class ServiceUnavailable(LineWorksError):
    status = 503
    code = "SERVICE_UNAVAILABLE"


class NotImplementedBySandbox(LineWorksError):
    """Loud answer for anything the sandbox does not emulate (never a silent 200)."""

    status = 501
    code = "NOT_IMPLEMENTED"


class OAuthError(Exception):
    """Token endpoint error, RFC 6749 shape ``{error, error_description}`` (UNCONFIRMED, §2.6)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}
