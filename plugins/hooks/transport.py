"""The request layer both API hooks share: one module, so that each rule is written once.

- :func:`make_session`: HTTP sessions that trust a connection's own CA bundle, even when
  ``REQUESTS_CA_BUNDLE`` is set (airflow-salesforce.md §7);
- :func:`retrying`: the bounded retry loop (the style anchors' layer (a): one retrying session).
  Retryable answers (429, 5xx) and connection errors are retried with capped, jittered exponential
  backoff; a service may compute its own wait (LINE WORKS honours ``rateLimit-reset``). Each hook then
  turns what persisted into its own typed exception (:mod:`hooks.exceptions`);
- :func:`mask_secrets`: every token a hook obtains is registered with Airflow's secrets masker;
- :func:`pause`: every wait a hook makes (retries, rate limits, Bulk polls) goes through it, so that
  tests observe waits instead of sleeping.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import requests
import tenacity


class PinnedCASession(requests.Session):
    """A session whose ``verify`` is not overridden by ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``.

    ``requests`` merges those environment variables into every request that does not pass ``verify``
    itself, silently replacing ``Session.verify`` (airflow-salesforce.md §7). Libraries such as
    simple-salesforce never pass it, so the session has to keep its own CA.
    """

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # noqa: ANN001
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None:  # the connection's CA bundle wins over the environment
            settings["verify"] = self.verify
        return settings


def make_session(ca_bundle: str | None) -> requests.Session:
    """A session trusting ``ca_bundle`` when the connection names one, else requests' defaults."""
    if not ca_bundle:
        return requests.Session()
    session = PinnedCASession()
    session.verify = ca_bundle
    return session


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


def pause(seconds: float) -> None:
    """Sleep ``seconds``: the one place the hooks wait (tests replace it to record the waits)."""
    time.sleep(seconds)


def mask_secrets(*values: str | None) -> None:
    """Register each non-empty value with Airflow's secrets masker, so no log line can show it."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - outside an Airflow install
        return
    for value in values:
        if value:
            mask_secret(value)
