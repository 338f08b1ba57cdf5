"""Dates as the command line takes them: one rule for every ``--since``."""

from __future__ import annotations

import datetime as dt
import re

_DATE_OR_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


def parse_since(text: str, option: str = "--since") -> dt.date:
    """``YYYY-MM-DD``, or ``YYYY-MM`` for the first day of that month."""
    match = _DATE_OR_MONTH.match(text.strip())
    if match is None:
        raise ValueError(f"{option} {text!r}: expected YYYY-MM-DD or YYYY-MM")
    year, month, day = match.groups()
    try:
        return dt.date(int(year), int(month), int(day or 1))
    except ValueError as exc:
        raise ValueError(f"{option} {text!r}: {exc}") from None
