"""Data quality: row-level rules and quarantine (``rules``), reconciliation (``reconcile``) and
Great Expectations suites (``suites``). Import the submodules; this package imports nothing, so
loading it never pays for Great Expectations."""
