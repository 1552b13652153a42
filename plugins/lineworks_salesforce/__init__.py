"""lineworks-salesforce: the one home of the pipeline's pure logic (no Airflow imports here).

``talklog`` (Monitoring CSV parsing, message keys, the doctor), ``directory`` (members and LINE friends),
``activities`` (Tasks: rendering, activity keys, redaction), ``archive`` (the archive database and its
migrations), ``pipelines`` (the steps archive → resolve → build → load, history forms, file imports,
provenance), ``salesforce_model`` (the org's schema, SOQL), ``settings`` (the validated settings),
``provider`` (Airflow provider info) and ``cli`` (the ``lineworks-salesforce`` command). The Airflow
layer is ``plugins/hooks/`` and ``plugins/operators/``.
"""
