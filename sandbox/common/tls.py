"""A local certificate authority for the sandboxes, so clients use https:// exactly as in production.

The CA and the server certificate are generated at run time with ``trustme`` (never committed) and
kept in a state folder so that a server started in one process and the clients in another trust the
same CA: the CA file's path is what goes into a connection's "CA bundle" field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import trustme

# Both names reach the same server; the LINE WORKS sandbox uses the second one as the "different
# host" of its download redirects, exactly like the real API's 302 to another domain.
SERVER_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class TLSFiles:
    """Paths of the PEM files of a sandbox CA and of the server certificate it issued."""

    ca_cert: Path
    server_cert: Path  # certificate chain
    server_key: Path


def ensure_tls(state_dir: str | os.PathLike[str]) -> TLSFiles:
    """Return the sandbox TLS files under ``state_dir/tls``, generating them on first use.

    :param state_dir: the sandbox state folder (``.sandbox`` by default).
    """
    tls_dir = Path(state_dir) / "tls"
    files = TLSFiles(tls_dir / "ca.pem", tls_dir / "server-chain.pem", tls_dir / "server-key.pem")
    if all(p.exists() for p in (files.ca_cert, files.server_cert, files.server_key)):
        return files
    tls_dir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="lineworks-salesforce sandbox CA")
    cert = ca.issue_cert(*SERVER_NAMES)
    _write_private(files.server_key, cert.private_key_pem.bytes())
    files.server_cert.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    files.ca_cert.write_bytes(ca.cert_pem.bytes())
    return files


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
