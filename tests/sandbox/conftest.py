"""A sandbox state folder naming the running test sandboxes, as `make up` leaves one."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest


@pytest.fixture
def state_dir(tmp_path, lineworks_sandbox, salesforce_sandbox) -> Path:
    """``endpoints.json`` of the test sandboxes, and the tests' credentials as the folder's own (so a
    seed registers the apps the tests' connections use, as `make up`'s connections keep working)."""
    folder = tmp_path / "state"
    (folder / "credentials").mkdir(parents=True)
    (folder / "endpoints.json").write_text(
        json.dumps(
            {
                "lineworks": {"url": lineworks_sandbox.url},
                "salesforce": {"url": salesforce_sandbox.url},
                "ca_bundle": lineworks_sandbox.ca_bundle,
            }
        )
    )
    for name, creds in (("lineworks", lineworks_sandbox.creds), ("salesforce", salesforce_sandbox.creds)):
        (folder / "credentials" / f"{name}.json").write_text(json.dumps(asdict(creds)))
    return folder
