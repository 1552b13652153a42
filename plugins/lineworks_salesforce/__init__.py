"""lineworks-salesforce: the namespaced home of the pipeline's pure logic (no Airflow imports here).

Today it holds the ``lineworks-salesforce`` command line (:mod:`lineworks_salesforce.cli`); the domain
packages move in here next (the "one home" issue).
"""
