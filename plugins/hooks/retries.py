"""The bounded retry loop both API hooks share (the style anchors' layer (a): one retrying session).

Retryable answers (429, 5xx) and connection errors are retried with capped, jittered exponential
backoff; a service may compute its own wait (LINE WORKS honours ``rateLimit-reset``). Each hook then
turns what persisted into its own typed exception.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

import requests
import tenacity

CONNECTION_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class RetryableResponse(Exception):
    """An answer worth retrying; carries it so that the final error can describe it."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def exponential_backoff(attempt: int, base: float, cap: float) -> float:
    """``base · 2^(attempt-1)`` capped at ``cap``, with up to 20 % jitter so clients do not retry in step."""
    return min(cap, base * 2 ** (attempt - 1)) * random.uniform(0.8, 1.0)


def retrying(
    service: str,
    operation: str,
    *,
    attempts: int,
    wait: Callable[[tenacity.RetryCallState], float],
    sleep: Callable[[float], None],
    log: logging.Logger,
    retry_on: tuple[type[BaseException], ...] = (),
) -> tenacity.Retrying:
    """A tenacity loop: ``attempts`` tries at most, a warning per retry, the last exception re-raised."""

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        what = exc.response.status_code if isinstance(exc, RetryableResponse) else type(exc).__name__
        log.warning(
            "%s %s: %s, retrying in %.1fs (attempt %d of %d)",
            service,
            operation,
            what,
            state.upcoming_sleep,
            state.attempt_number,
            attempts,
        )

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts),
        wait=wait,
        retry=tenacity.retry_if_exception_type((RetryableResponse, *CONNECTION_ERRORS, *retry_on)),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
