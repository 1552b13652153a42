"""The layout rules of the design card: one domain package without Airflow, a short plugins/ folder."""

from __future__ import annotations

import ast
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
DOMAIN = PLUGINS / "lineworks_salesforce"


def test_should_keep_airflow_out_of_the_domain_package():
    offenders = []
    for path in sorted(DOMAIN.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(PLUGINS)}:{node.lineno} {n}"
                for n in names
                if n.split(".")[0] == "airflow"
            ]
    assert not offenders, f"Airflow imported in the domain package: {offenders}"


def test_should_keep_plugins_to_the_airflow_layer_the_domain_package_and_one_plugin_file():
    entries = sorted(
        p.name
        for p in PLUGINS.iterdir()
        if p.name not in (".airflowignore", "__pycache__") and not p.name.endswith(".egg-info")
    )
    assert len(entries) <= 4, entries
    assert {"hooks", "operators", "lineworks_salesforce"} <= set(entries)
    assert set(entries) <= {"hooks", "operators", "lineworks_salesforce", "lineworks_salesforce_plugin.py"}


def test_should_ignore_every_package_folder_so_the_list_never_grows():
    ignored = {line.strip() for line in (PLUGINS / ".airflowignore").read_text().splitlines()}
    folders = {f"{p.name}/" for p in PLUGINS.iterdir() if p.is_dir() and not p.name.endswith(".egg-info")}
    assert folders - {"__pycache__/"} <= ignored
