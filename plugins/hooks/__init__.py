"""Airflow hooks of lineworks-salesforce (imported as ``hooks.<module>``; plugins/ is on sys.path)."""
