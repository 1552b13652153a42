"""Demo/test credentials for the sandbox, generated at run time (never committed).

An RSA key pair for the service account, a client id/secret and a bot secret are written under
``<state_dir>/credentials/`` (git-ignored) and reused by later runs, so a running sandbox and the
Airflow connection pointing at it agree.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEMO_SCOPES = ["bot", "bot.read", "user.read", "contact.read", "monitoring.read", "audit.read"]
DEMO_BOT_ID = 2000001


@dataclass(frozen=True)
class SandboxCredentials:
    client_id: str
    client_secret: str
    service_account: str
    private_key: str  # PEM (PKCS#8)
    public_key: str  # PEM (SubjectPublicKeyInfo)
    bot_id: int
    bot_secret: str
    scopes: list[str]

    def app_spec(self) -> dict:
        """The scenario-file entry that registers this app with the LINE WORKS sandbox."""
        return {
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "serviceAccount": self.service_account,
            "publicKey": self.public_key,
            "scopes": self.scopes,
        }

    def bot_spec(self, callback_url: str | None = None) -> dict:
        return {
            "botId": self.bot_id,
            "secret": self.bot_secret,
            "callbackUrl": callback_url,
            "name": "社外連絡先Bot",
        }

    def connection(self, base_url: str, ca_bundle: str, **extra: object) -> dict:
        """An Airflow connection (JSON form, for ``AIRFLOW_CONN_LINEWORKS_DEFAULT``) to the sandbox."""
        return {
            "conn_type": "lineworks",
            "extra": {  # the connection form's fields (provider.CONN_FIELDS)
                "api_base_url": f"{base_url}/v1.0",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "auth_url": f"{base_url}/oauth2/v2.0/token",
                "service_account": self.service_account,
                "private_key": self.private_key,
                "bot_id": str(self.bot_id),
                "bot_secret": self.bot_secret,
                "scopes": " ".join(self.scopes),
                "ca_bundle": ca_bundle,
                **extra,
            },
        }


@dataclass(frozen=True)
class SalesforceSandboxCredentials:
    """A connected app (consumer key/secret + certificate key pair) and its integration user."""

    consumer_key: str
    consumer_secret: str
    private_key: str
    public_key: str
    username: str

    def app_spec(self) -> dict:
        return {
            "clientId": self.consumer_key,
            "clientSecret": self.consumer_secret,
            "publicKey": self.public_key,
        }

    def user_record(self) -> dict:
        return {
            "Username": self.username,
            "Email": "integration@sandbox.example.com",
            "FirstName": "連携ユーザー",
            "LastName": "LINE WORKS",  # Name "LINE WORKS 連携ユーザー" in a Japanese-locale org
            "IsActive": True,
        }

    def seed_spec(self) -> dict:
        """The control-API seed that registers the app and its run-as user."""
        return {"apps": [self.app_spec()], "records": {"User": [self.user_record()]}}

    def connection(self, base_url: str, ca_bundle: str, **extra: object) -> dict:
        """An Airflow ``salesforce`` connection (JSON form) using the JWT bearer flow against the sandbox."""
        return {
            "conn_type": "salesforce",
            "login": self.username,
            "extra": {
                "login_url": base_url,
                "consumer_key": self.consumer_key,
                "private_key": self.private_key,
                "ca_bundle": ca_bundle,
                "version": "62.0",
                **extra,
            },
        }


def _key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def generate_salesforce_credentials() -> SalesforceSandboxCredentials:
    private_pem, public_pem = _key_pair()
    return SalesforceSandboxCredentials(
        consumer_key="3MVG9" + secrets.token_urlsafe(24),
        consumer_secret=secrets.token_hex(32),
        private_key=private_pem,
        public_key=public_pem,
        username="lineworks.integration@sandbox.example.com",
    )


def generate_credentials(scopes: list[str] | None = None) -> SandboxCredentials:
    private_pem, public_pem = _key_pair()
    return SandboxCredentials(
        client_id="Zbs" + secrets.token_hex(8),
        client_secret=secrets.token_urlsafe(18),
        service_account=f"{secrets.token_hex(3)}.serviceaccount@sandbox.example.com",
        private_key=private_pem,
        public_key=public_pem,
        bot_id=DEMO_BOT_ID,
        bot_secret=secrets.token_urlsafe(24),
        scopes=list(scopes or DEMO_SCOPES),
    )


def ensure_credentials(state_dir: str | os.PathLike[str]) -> SandboxCredentials:
    """Load the LINE WORKS credentials of ``state_dir``, generating them on first use."""
    return _ensure(
        Path(state_dir) / "credentials" / "lineworks.json", SandboxCredentials, generate_credentials
    )


def ensure_salesforce_credentials(state_dir: str | os.PathLike[str]) -> SalesforceSandboxCredentials:
    """Load the Salesforce credentials of ``state_dir``, generating them on first use."""
    return _ensure(
        Path(state_dir) / "credentials" / "salesforce.json",
        SalesforceSandboxCredentials,
        generate_salesforce_credentials,
    )


def _ensure(path: Path, cls, generate):
    if path.exists():
        return cls(**json.loads(path.read_text()))
    creds = generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(creds), fh)
    return creds
