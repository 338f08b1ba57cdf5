"""The dbt CLI resource, without two start-up costs of dagster-dbt's that crimemap does not use.

Before each invocation dagster-dbt runs ``dbt --version`` in a subprocess (about 5 s: dbt's
imports, and a look for the latest release online) and builds a dbt adapter in-process (about
4 s of imports) that serves only ``fetch_row_counts`` and ``fetch_column_metadata``. crimemap
reads row counts and schemas itself (``assets.with_table_metadata``), and its dbt is the dbt-core
package of this environment, whose version its metadata records.
"""

from functools import cached_property
from importlib.metadata import version as installed_version
from typing import Any

from dagster_dbt import DbtCliResource
from packaging import version


class DbtCli(DbtCliResource):
    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Any) -> Any:
        return None  # no adapter: crimemap fetches no row counts or columns through dbt's
