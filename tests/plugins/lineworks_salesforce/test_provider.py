"""The ``lineworks`` connection type reaches Airflow through the provider entry point."""

from __future__ import annotations

import pytest

from lineworks_salesforce.provider import get_provider_info


@pytest.fixture(scope="module")
def providers():
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def test_should_register_the_provider_package(providers):
    assert "lineworks-salesforce" in providers.providers


def test_should_register_the_lineworks_connection_type():
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hook = ProvidersManagerTaskRuntime().hooks["lineworks"]
    assert hook is not None
    assert hook.hook_class_name == "hooks.lineworks.LineWorksHook"
    assert hook.connection_id_attribute_name == "lineworks_conn_id"
    assert hook.hook_name == "LINE WORKS"


def test_should_show_labelled_fields_and_mark_secrets(providers):
    widgets = providers.connection_form_widgets
    labels = {
        name.removeprefix("extra__lineworks__"): w.field["schema"]["title"]
        for name, w in widgets.items()
        if name.startswith("extra__lineworks__")
    }
    assert labels == {
        "auth_url": "Token URL",
        "service_account": "Service Account",
        "private_key": "Private Key",
        "bot_id": "Bot ID",
        "bot_secret": "Bot Secret",
        "domain_id": "Domain ID",
        "scopes": "Scopes",
        "ca_bundle": "CA bundle path",
    }
    sensitive = {
        name for name, w in widgets.items() if name.startswith("extra__lineworks__") and w.is_sensitive
    }
    assert sensitive == {"extra__lineworks__private_key", "extra__lineworks__bot_secret"}


def test_should_relabel_the_standard_fields(providers):
    behaviour = providers.field_behaviours["lineworks"]
    assert behaviour["relabeling"] == {
        "host": "API base URL",
        "login": "Client ID",
        "password": "Client Secret",
    }
    assert set(behaviour["hidden_fields"]) == {"schema", "port"}
    assert behaviour["placeholders"]["host"] == "https://www.worksapis.com/v1.0"


def test_should_default_to_the_real_token_url():
    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    assert fields["auth_url"]["schema"]["default"] == "https://auth.worksmobile.com/oauth2/v2.0/token"


def test_should_serve_the_form_to_the_ui_with_visible_defaults():
    """What the UI's connection form reads (``/ui/connections/hook_meta``)."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    meta = next(m for m in HookMetaService.hook_meta_data() if m.connection_type == "lineworks")
    assert meta.hook_name == "LINE WORKS"
    assert meta.standard_fields.host.title == "API base URL"
    assert meta.standard_fields.port.hidden
    assert meta.extra_fields["auth_url"]["value"] == "https://auth.worksmobile.com/oauth2/v2.0/token"
    assert meta.extra_fields["private_key"]["schema"]["format"] == "password"


def test_should_not_use_the_deprecated_widget_api():
    from hooks.lineworks import LineWorksHook

    assert "get_connection_form_widgets" not in LineWorksHook.__dict__
    assert "get_ui_field_behaviour" not in LineWorksHook.__dict__


def test_should_import_our_modules_only_by_their_package_paths_when_airflow_loads_plugins(tmp_path):
    """Airflow's plugin manager imports every plugins/ file it is not told to ignore under its bare file
    name (``hooks/salesforce.py`` as ``salesforce``): a second copy of each class. ``plugins/.airflowignore``
    keeps it to AirflowPlugin modules; a new package must be listed there too."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    plugins = Path(__file__).resolve().parents[3] / "plugins"
    script = (
        "import json, sys\n"
        "from airflow import plugins_manager\n"
        "plugins_manager.ensure_plugins_loaded()\n"
        f"root = {str(plugins)!r}\n"
        "print(json.dumps({'errors': plugins_manager.get_import_errors(), 'bare': sorted(\n"
        "    name for name, m in list(sys.modules.items())\n"
        "    if (getattr(m, '__file__', None) or '').startswith(root) and '.' not in name\n"
        "    and not (getattr(m, '__file__', '') or '').endswith(f'/{name}/__init__.py'))}))\n"
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"errors": {}, "bare": []}
