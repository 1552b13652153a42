"""Airflow operators of lineworks-salesforce (imported as ``operators.<module>``).

Thin wrappers where a TaskFlow task is not enough; the work is done by the hooks and the pure domain
packages under ``plugins/``. None is needed yet: ``lineworks_talk_logs`` calls the hook from a task.
"""
