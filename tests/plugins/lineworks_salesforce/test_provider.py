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


def test_should_show_every_value_as_a_labelled_field_and_mark_secrets(providers):
    widgets = providers.connection_form_widgets
    labels = {
        name.removeprefix("extra__lineworks__"): w.field["schema"]["title"]
        for name, w in widgets.items()
        if name.startswith("extra__lineworks__")
    }
    assert labels == {
        "domain_id": "Domain ID",
        "client_id": "Client ID",
        "client_secret": "Client Secret",
        "service_account": "Service Account",
        "private_key": "Private Key",
        "bot_id": "Bot ID",
        "bot_secret": "Bot Secret",
        "scopes": "Scopes",
        "api_base_url": "API base URL",
        "auth_url": "Token URL",
        "ca_bundle": "CA bundle path",
    }
    sensitive = {
        name for name, w in widgets.items() if name.startswith("extra__lineworks__") and w.is_sensitive
    }
    assert sensitive == {
        "extra__lineworks__client_secret",
        "extra__lineworks__private_key",
        "extra__lineworks__bot_secret",
    }


def _japanese(ch: str) -> bool:
    return "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff"


def test_should_explain_every_field_in_japanese_and_english_and_mark_the_required_ones():
    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    for name, field in fields.items():
        ja, _, en = field["description"].partition(" / ")
        assert any(_japanese(ch) for ch in ja) and en and not any(_japanese(ch) for ch in en), name
    required = {n for n, f in fields.items() if f["description"].startswith("必須")}
    assert required == {"domain_id", "client_id", "client_secret", "service_account", "private_key"}
    assert all("Required." in fields[n]["description"] for n in required)


def test_should_hide_the_standard_fields_that_cannot_carry_a_help_text(providers):
    behaviour = providers.field_behaviours["lineworks"]
    assert set(behaviour["hidden_fields"]) == {"host", "schema", "port", "login", "password"}


@pytest.mark.parametrize(
    ("field", "default"),
    [
        ("auth_url", "https://auth.worksmobile.com/oauth2/v2.0/token"),
        ("api_base_url", "https://www.worksapis.com/v1.0"),
        ("scopes", "bot user.read contact.read monitoring.read audit.read"),
    ],
)
def test_should_default_to_the_documented_values(field, default):
    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    assert fields[field]["schema"]["default"] == default


def test_should_serve_the_form_to_the_ui_with_visible_defaults():
    """What the UI's connection form reads (``/ui/connections/hook_meta``)."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    meta = next(m for m in HookMetaService.hook_meta_data() if m.connection_type == "lineworks")
    assert meta.hook_name == "LINE WORKS"
    assert meta.standard_fields.host.hidden and meta.standard_fields.login.hidden
    assert meta.standard_fields.port.hidden and meta.standard_fields.password.hidden
    assert meta.extra_fields["auth_url"]["value"] == "https://auth.worksmobile.com/oauth2/v2.0/token"
    assert meta.extra_fields["api_base_url"]["value"] == "https://www.worksapis.com/v1.0"
    assert meta.extra_fields["private_key"]["schema"]["format"] == "password"
    assert meta.extra_fields["domain_id"]["description"].startswith("必須")


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
    assert found == {"errors": {}, "bare": ["lineworks_salesforce_plugin"]}  # the one plugin file only
