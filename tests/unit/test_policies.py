"""Freshness windows follow how the police data arrives."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from crimemap.config.runtime import current_config
from crimemap.orchestration.defs.policies import freshness_policy


def test_live_police_data_is_expected_daily_and_exports_monthly() -> None:
    config = current_config()
    exports = replace(config, police=tuple(replace(s, mode="file") for s in config.police))
    live = replace(config, police=(replace(config.police[0], mode="live"), *exports.police[1:]))
    assert windows(live) == (timedelta(days=2), timedelta(days=7))
    assert windows(exports) == (timedelta(days=35), timedelta(days=62))


def windows(config) -> tuple[timedelta, timedelta]:
    policy = freshness_policy(config)
    return policy.warn_window.to_timedelta(), policy.fail_window.to_timedelta()
