"""Fault plans: "the next N calls to X answer Y", plus a seeded random fault rate.

moto has no generic failure switch; this is our extension in the same spirit as its control plane.
A plan is consulted once per request with the operation name (e.g. ``contacts.list``); a target
matches an operation when it equals it or is a dotted prefix of it (``bot`` matches ``bot.send_user``),
and ``*`` matches everything.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass
class _Queued:
    target: str
    kind: str
    remaining: int


@dataclass
class FaultPlan:
    """Thread-safe queue of injected faults and a random fault rate (off by default)."""

    allowed_kinds: frozenset[str]
    _queued: list[_Queued] = field(default_factory=list)
    _rate: float = 0.0
    _rate_kinds: tuple[str, ...] = ()
    _rate_targets: tuple[str, ...] = ("*",)
    _rng: random.Random = field(default_factory=lambda: random.Random(0))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    injected: dict[str, int] = field(default_factory=dict)

    def add(self, target: str, kind: str, count: int = 1) -> None:
        """Make the next ``count`` calls matching ``target`` fail with ``kind``."""
        self._check_kind(kind)
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._queued.append(_Queued(target, kind, count))

    def set_random(
        self, rate: float, kinds: list[str], seed: int = 0, targets: list[str] | None = None
    ) -> None:
        """Fail a share ``rate`` (0..1) of matching calls with a kind drawn from ``kinds``."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        for kind in kinds:
            self._check_kind(kind)
        if rate and not kinds:
            raise ValueError("a random fault rate needs at least one kind")
        with self._lock:
            self._rate, self._rate_kinds = rate, tuple(kinds)
            self._rate_targets = tuple(targets or ["*"])
            self._rng = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self._queued.clear()
            self._rate, self._rate_kinds, self._rate_targets = 0.0, (), ("*",)
            self.injected.clear()

    def take(self, operation: str, kinds: frozenset[str] | None = None) -> str | None:
        """Return the fault kind to apply to this call of ``operation``, or None.

        :param kinds: the kinds that make sense for this operation; other queued faults wait for a
            call they apply to (e.g. ``download_error`` only applies to a file download).
        """
        with self._lock:
            for queued in self._queued:
                if _matches(queued.target, operation) and (kinds is None or queued.kind in kinds):
                    queued.remaining -= 1
                    if queued.remaining == 0:
                        self._queued.remove(queued)
                    return self._count(queued.kind)
            if self._rate and any(_matches(t, operation) for t in self._rate_targets):
                usable = [k for k in self._rate_kinds if kinds is None or k in kinds]
                if usable and self._rng.random() < self._rate:
                    return self._count(self._rng.choice(usable))
        return None

    def describe(self) -> dict:
        with self._lock:
            return {
                "queued": [
                    {"target": q.target, "kind": q.kind, "remaining": q.remaining} for q in self._queued
                ],
                "random": {
                    "rate": self._rate,
                    "kinds": list(self._rate_kinds),
                    "targets": list(self._rate_targets),
                },
                "injected": dict(self.injected),
            }

    def _count(self, kind: str) -> str:
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind

    def _check_kind(self, kind: str) -> None:
        if kind not in self.allowed_kinds:
            raise ValueError(f"unknown fault kind {kind!r}; allowed: {sorted(self.allowed_kinds)}")


def _matches(target: str, operation: str) -> bool:
    return target == "*" or operation == target or operation.startswith(target + ".")


def apply_fault_request(plan: FaultPlan, data: dict) -> dict:
    """The control API's ``POST /_sandbox/faults`` body, for every sandbox.

    ``{"target": "contacts", "kind": "503", "count": 2}`` queues faults; ``{"random": {"rate": 0.1,
    "kinds": [...], "seed": 1, "targets": ["*"]}}`` sets the random fault rate.
    """
    if "random" in data:
        r = data["random"]
        plan.set_random(float(r["rate"]), list(r.get("kinds", [])), int(r.get("seed", 0)), r.get("targets"))
    else:
        plan.add(data["target"], str(data["kind"]), int(data.get("count", 1)))
    return plan.describe()
