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
from typing import Any

from sandbox.common.validation import (
    BadRequest,
    check_int,
    check_list,
    check_number,
    check_object,
    check_text,
    safe_name,
)

MAX_QUEUED = 10_000  # queued fault entries (a sandbox limit: each one is checked on every call)
MAX_COUNT = 1_000_000_000


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
            raise BadRequest("count must be >= 1")
        with self._lock:
            if len(self._queued) >= MAX_QUEUED:
                raise BadRequest(f"at most {MAX_QUEUED:,} faults can be queued; clear them first")
            self._queued.append(_Queued(target, kind, count))

    def set_random(
        self, rate: float, kinds: list[str], seed: int = 0, targets: list[str] | None = None
    ) -> None:
        """Fail a share ``rate`` (0..1) of matching calls with a kind drawn from ``kinds``."""
        if not 0.0 <= rate <= 1.0:
            raise BadRequest("rate must be between 0 and 1")
        for kind in kinds:
            self._check_kind(kind)
        if rate and not kinds:
            raise BadRequest("a random fault rate needs at least one kind")
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
            raise BadRequest(f"unknown fault kind {safe_name(kind)}; allowed: {sorted(self.allowed_kinds)}")


def _matches(target: str, operation: str) -> bool:
    return target == "*" or operation == target or operation.startswith(target + ".")


def apply_fault_request(plan: FaultPlan, data: Any) -> dict:
    """The control API's ``POST /_sandbox/faults`` body, for every sandbox.

    ``{"target": "contacts", "kind": "503", "count": 2}`` queues faults; ``{"random": {"rate": 0.1,
    "kinds": [...], "seed": 1, "targets": ["*"]}}`` sets the random fault rate. Every value is checked
    before the plan changes (a target that is not a string would break every later call).

    :raises BadRequest: naming the field, never echoing its value.
    """
    check_object(data, "the fault request")
    if "random" in data:
        r = check_object(data["random"], "random")
        rate = check_number(r.get("rate"), "random.rate", minimum=0.0, maximum=1.0)
        kinds = [
            check_text(k, f"random.kinds[{i}]", max_length=64)
            for i, k in enumerate(check_list(r.get("kinds", []), "random.kinds", max_items=100))
        ]
        seed = check_int(r.get("seed", 0), "random.seed", minimum=-(2**63), maximum=2**63 - 1)
        targets = r.get("targets")
        if targets is not None:
            targets = [
                _target(t, f"random.targets[{i}]")
                for i, t in enumerate(check_list(targets, "random.targets", max_items=100))
            ]
        plan.set_random(float(rate), kinds, seed, targets)
    else:
        target = _target(data.get("target"), "target")
        kind = data.get("kind")
        if isinstance(kind, int) and not isinstance(kind, bool):
            kind = str(kind)  # {"kind": 503} as well as {"kind": "503"}
        kind = check_text(kind, "kind", max_length=64)
        count = check_int(data.get("count", 1), "count", minimum=1, maximum=MAX_COUNT)
        plan.add(target, kind, count)
    return plan.describe()


def _target(value: Any, where: str) -> str:
    return check_text(value, where, min_length=1, max_length=200)  # type: ignore[return-value]
