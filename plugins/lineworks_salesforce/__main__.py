"""``python -m lineworks_salesforce`` = the ``lineworks-salesforce`` command."""

from lineworks_salesforce.cli import main

raise SystemExit(main())
