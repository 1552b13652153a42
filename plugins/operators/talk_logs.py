"""Airflow glue of the talk-log DAGs: build a pipeline ``Run`` from connections, settings and context.

The steps themselves live in :mod:`talkpipeline` (no Airflow in them); this module only finds the
connections (``lineworks_default``, ``salesforce_default``, ``lineworks_archive``), the settings
(``include/config/settings.yaml`` + the Variable ``lineworks_salesforce_settings``) and the run id.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

log = logging.getLogger(__name__)


def settings():
    """Pipeline settings: YAML defaults overridden by the Variable (JSON), validated."""
    from airflow.sdk import Variable

    from pipeline_settings import VARIABLE_NAME, load_settings

    raw = Variable.get(VARIABLE_NAME, default=None)
    return load_settings(json.loads(raw) if raw else None)


def archive_for(conn_id: str):
    """The archive behind connection ``conn_id``; a local SQLite file when the connection is not defined."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk import BaseHook

    from talkarchive import Archive, archive_url

    try:
        conn = BaseHook.get_connection(conn_id)
        url = archive_url(conn.conn_type, conn.host, conn.login, conn.password, conn.port, conn.schema)
    except AirflowNotFoundException:
        path = os.path.join(
            os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow")), "lineworks_archive.db"
        )
        log.info("Connection %r is not defined; using the SQLite archive %s", conn_id, path)
        url = f"sqlite:///{path}"
    archive = Archive(url)
    archive.create_schema()
    return archive


def make_run(context: dict[str, Any]):
    """The pipeline ``Run`` of this task: archive, settings, run id and the LINE WORKS domain id."""
    from hooks.lineworks import LineWorksHook
    from talkpipeline import Run

    cfg = settings()
    domain = cfg.domain_id or LineWorksHook(cfg.lineworks_conn_id).settings.domain_id or ""
    if not domain:
        raise ValueError(
            "set the LINE WORKS Domain ID on the connection or the setting domain_id: "
            "activity keys include it"
        )
    return Run(
        archive=archive_for(cfg.archive_conn_id),
        settings=cfg,
        run_id=context["run_id"],
        domain_id=domain,
    )
