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


def _field(
    label: str, help_ja: str, help_en: str, *, secret: bool = False, default: str | None = None
) -> dict:
    """One connection-form field: its label, its help text (Japanese, then English) and its schema."""
    schema = dict(_SECRET if secret else _STRING)
    if default is not None:
        schema["default"] = default
    return {"label": label, "schema": schema, "description": f"{help_ja} / {help_en}"}


# Every value of the connection is a field of the form below, each with its help text (the standard
# Host/Login/Password fields cannot carry one, so they are hidden; the hook still reads them when a
# connection made from a URI uses them). Names: auth_url, not token_url — Airflow masks values of keys
# containing "token", which would hide the default URL.
CONN_FIELDS = {
    "domain_id": _field(
        "Domain ID",
        "必須。LINE WORKS のテナント（ドメイン）ID（数字、例 40029600）。Developer Console の API 2.0 画面、"
        "またはこの接続の「Test」（成功時に表示）で確認できます",
        "Required. The LINE WORKS tenant (domain) ID, digits such as 40029600: shown in the Developer "
        "Console (API 2.0), and printed by this connection's Test when it succeeds",
    ),
    "client_id": _field(
        "Client ID",
        "必須。Developer Console → API 2.0 → アプリの Client ID",
        "Required. Developer Console → API 2.0 → the app's Client ID",
    ),
    "client_secret": _field(
        "Client Secret",
        "必須。同じアプリの Client Secret",
        "Required. The same app's Client Secret",
        secret=True,
    ),
    "service_account": _field(
        "Service Account",
        "必須。アプリで発行した Service Account（例 1wagx.serviceaccount@example.com）",
        "Required. The app's Service Account ID, e.g. 1wagx.serviceaccount@example.com",
    ),
    "private_key": _field(
        "Private Key",
        "必須。Service Account の Private Key（PEM ファイルの中身を、BEGIN の行から END の行まで全文）",
        "Required. The Service Account's private key: the whole PEM file, its BEGIN line to its END line",
        secret=True,
    ),
    "bot_id": _field(
        "Bot ID",
        "登録ボット用（任意）。Developer Console → Bot の Bot ID（数字）",
        "For the registration bot (optional): Developer Console → Bot → the Bot ID (digits)",
    ),
    "bot_secret": _field(
        "Bot Secret",
        "登録ボット用（任意）。同じ Bot の Bot Secret。コールバックの X-WORKS-Signature を検証します",
        "For the registration bot (optional): the same bot's Bot Secret; verifies X-WORKS-Signature",
        secret=True,
    ),
    "scopes": _field(
        "Scopes",
        "要求する OAuth スコープ（空白区切り）。アプリに付与したスコープの範囲内で",
        "OAuth scopes to request, space-separated; within those granted to the app",
        default=DEFAULT_SCOPES,
    ),
    "api_base_url": _field(
        "API base URL",
        "LINE WORKS API 2.0 のベース URL（通常は変更不要）",
        "LINE WORKS API 2.0 base URL (keep the default unless told otherwise)",
        default=DEFAULT_API_BASE_URL,
    ),
    "auth_url": _field(
        "Token URL",
        "OAuth 2.0 トークンエンドポイント（通常は変更不要）",
        "OAuth 2.0 token endpoint (keep the default)",
        default=DEFAULT_TOKEN_URL,
    ),
    "ca_bundle": _field(
        "CA bundle path",
        "任意。信頼する CA の PEM ファイルのパス（社内 CA、ローカルの sandbox）。空なら OS の CA",
        "Optional. Path of a PEM file of CAs to trust (private CA, the local sandbox); empty: the system's",
    ),
}


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
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": {
                    "hidden-fields": ["host", "schema", "port", "login", "password"],
                    "placeholders": {
                        "extra": '{"rate_limits": {"monitoring": 10, "audit": 10, "default": 240}}',
                    },
                },
            }
        ],
    }
