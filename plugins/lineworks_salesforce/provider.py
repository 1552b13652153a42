"""Provider metadata for lineworks-salesforce: registers the ``lineworks`` connection type.

Airflow 3 discovers connection types (the typed form in the UI's connection editor) only from
provider packages, through the ``apache_airflow_provider`` entry point declared in
``pyproject.toml`` (``lineworks_salesforce.provider:get_provider_info``, installed with the rest of the
domain package by ``pip install -e .``); the hook itself lives in ``plugins/hooks/lineworks.py`` and is
imported as ``hooks.lineworks.LineWorksHook`` because Airflow puts ``plugins/`` on ``sys.path``.
"""

from __future__ import annotations

__version__ = "0.1.0"

DEFAULT_API_BASE_URL = "https://www.worksapis.com/v1.0"
DEFAULT_TOKEN_URL = "https://auth.worksmobile.com/oauth2/v2.0/token"
DEFAULT_SCOPES = "bot user.read contact.read monitoring.read audit.read"

_STRING = {"type": ["string", "null"]}
_SECRET = {"type": ["string", "null"], "format": "password"}


def get_provider_info() -> dict:
    """Return the provider info dict read by Airflow's providers manager."""
    return {
        "package-name": "lineworks-salesforce",
        "name": "LINE WORKS to Salesforce",
        "description": "LINE WORKS API 2.0 hook and connection type for the lineworks-salesforce pipeline.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "lineworks",
                "hook-class-name": "hooks.lineworks.LineWorksHook",
                "hook-name": "LINE WORKS",
                "conn-fields": {
                    # Named auth_url, not token_url: Airflow masks values of keys containing "token",
                    # which would hide the default URL in the connection form.
                    "auth_url": {
                        "label": "Token URL",
                        "schema": {**_STRING, "default": DEFAULT_TOKEN_URL},
                        "description": "OAuth 2.0 token endpoint (JWT bearer grant and refresh).",
                    },
                    "service_account": {
                        "label": "Service Account",
                        "schema": _STRING,
                        "description": "Service account ID, e.g. 1wagx.serviceaccount@example.com",
                    },
                    "private_key": {
                        "label": "Private Key",
                        "schema": _SECRET,
                        "description": "PEM private key issued for the service account (RS256).",
                    },
                    "bot_id": {"label": "Bot ID", "schema": _STRING},
                    "bot_secret": {
                        "label": "Bot Secret",
                        "schema": _SECRET,
                        "description": "Verifies X-WORKS-Signature on bot callbacks.",
                    },
                    "domain_id": {"label": "Domain ID", "schema": _STRING},
                    "scopes": {
                        "label": "Scopes",
                        "schema": {**_STRING, "default": DEFAULT_SCOPES},
                        "description": "Space-separated OAuth scopes requested for the token.",
                    },
                    "ca_bundle": {
                        "label": "CA bundle path",
                        "schema": _STRING,
                        "description": "Optional PEM file of CAs to trust (private CA, local sandbox).",
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "API base URL",
                        "login": "Client ID",
                        "password": "Client Secret",
                    },
                    "placeholders": {
                        "host": DEFAULT_API_BASE_URL,
                        "extra": '{"rate_limits": {"monitoring": 10, "audit": 10, "default": 240}}',
                    },
                },
            }
        ],
    }
