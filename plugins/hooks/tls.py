"""HTTP sessions that trust a connection's own CA bundle, even when REQUESTS_CA_BUNDLE is set."""

from __future__ import annotations

import requests


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
