"""A small client of the sandboxes' control API, used by the CLI, the demo, tests and benchmarks."""

from __future__ import annotations

from typing import Any

from hooks.transport import make_session  # the same CA handling as the product hooks


class SandboxControl:
    """Talks to ``<base_url>/_sandbox/...`` over TLS, trusting the sandbox CA."""

    def __init__(self, base_url: str, ca_bundle: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = make_session(ca_bundle)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(method, f"{self.base_url}/_sandbox{path}", json=body, timeout=600)
        if response.status_code >= 400:
            raise RuntimeError(
                f"sandbox control {method} {path}: HTTP {response.status_code} {response.text}"
            )
        return response.json()

    def reset(self) -> Any:
        return self.call("POST", "/reset")

    def seed(self, spec: dict[str, Any]) -> Any:
        return self.call("POST", "/seed", spec)

    def configure(self, **changes: Any) -> Any:
        return self.call("PATCH", "/config", changes)

    def fault(self, target: str, kind: str, count: int = 1) -> Any:
        """The next ``count`` calls to ``target`` answer ``kind`` (429, 500, 503, reset, ...)."""
        return self.call("POST", "/faults", {"target": target, "kind": kind, "count": count})

    def random_faults(
        self, rate: float, kinds: list[str], seed: int = 0, targets: list[str] | None = None
    ) -> Any:
        return self.call(
            "POST", "/faults", {"random": {"rate": rate, "kinds": kinds, "seed": seed, "targets": targets}}
        )

    def clear_faults(self) -> Any:
        return self.call("DELETE", "/faults")

    def stats(self) -> Any:
        return self.call("GET", "/stats")

    def directory(self) -> dict[str, Any]:
        """LINE WORKS sandbox: its members and LINE friends (``GET /_sandbox/directory``)."""
        return self.call("GET", "/directory")

    def bot_messages(self, bot_id: str | int) -> list[dict[str, Any]]:
        return self.call("GET", f"/bots/{bot_id}/messages")["messages"]

    def send_callback(self, bot_id: str | int, event: dict[str, Any]) -> Any:
        return self.call("POST", f"/bots/{bot_id}/callbacks", event)
