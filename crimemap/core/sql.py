"""DuckDB SQL text helpers shared by the SQL-writing modules (ingestion and quality)."""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """Quote a column or table name for DuckDB (names like ``Report Number`` have spaces)."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
