"""Run a sandbox ASGI app as a real HTTPS server: in a background thread (tests) or in the foreground.

Like moto's ``ThreadedMotoServer``: ``port=0`` picks a free port. The HTTP protocol class exposes
the connection's transport to the app (``scope["sandbox.transport"]``) so that a fault can reset
the TCP connection for real (RST), which is what a flaky network does to a client.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from sandbox.common.tls import TLSFiles

TRANSPORT_KEY = "sandbox.transport"


class _TransportExposingProtocol(H11Protocol):
    """h11 protocol that hands the socket transport to the request scope (for connection resets)."""

    def handle_events(self) -> None:
        super().handle_events()
        cycle = getattr(self, "cycle", None)
        if cycle is not None:
            # The ASGI task was only scheduled, not started: the scope can still be extended.
            cycle.scope[TRANSPORT_KEY] = self.transport


def reset_connection(scope: dict[str, Any]) -> None:
    """Abort the client connection with a TCP RST (SO_LINGER 0) instead of answering."""
    transport: asyncio.Transport | None = scope.get(TRANSPORT_KEY)
    if transport is None:  # pragma: no cover - only when served by another protocol class
        raise RuntimeError("connection reset needs the sandbox server's protocol class")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _config(app: Any, host: str, port: int, tls: TLSFiles, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_TransportExposingProtocol,
        ws="none",
        lifespan="off",
        ssl_certfile=str(tls.server_cert),
        ssl_keyfile=str(tls.server_key),
        log_level=log_level,
        access_log=False,
        timeout_keep_alive=30,
        # Do not wait for idle keep-alive clients when stopping (tests, Ctrl-C).
        timeout_graceful_shutdown=1,
    )


class ThreadedServer:
    """An HTTPS server for ``app`` running in a daemon thread.

    .. code-block:: python

        server = ThreadedServer(app, tls)
        server.start()
        print(server.url)  # https://localhost:<port>
        server.stop()
    """

    def __init__(
        self, app: Any, tls: TLSFiles, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
    ) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        self._server = uvicorn.Server(_config(app, host, self.port, tls, log_level))
        self._thread = threading.Thread(target=self._run, name=f"sandbox-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def _run(self) -> None:
        self._server.run(sockets=[self._sock])

    def start(self, timeout: float = 15.0) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("sandbox server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def serve_forever(app: Any, tls: TLSFiles, host: str, port: int, log_level: str = "info") -> None:
    """Serve ``app`` in the foreground until interrupted (``python -m sandbox serve``)."""
    uvicorn.Server(_config(app, host, port, tls, log_level)).run()
