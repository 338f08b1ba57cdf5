"""Owners and freshness policies, declared on the assets in one place.

Owners come from the jurisdiction (``publishing.owners``). Freshness is declared where data
arrives and where it leaves: each police landing and the published release and layers. Its
windows follow how the police data arrives: daily for a live source (the ``crimemap_daily``
schedule), when an agency sends an export otherwise.
"""

import warnings
from datetime import timedelta

from dagster import AssetSpec, Definitions, FreshnessPolicy, PreviewWarning

from crimemap.config.jurisdiction import JurisdictionConfig

LIVE_WINDOWS = (timedelta(days=2), timedelta(days=7))  # warn, fail
EXPORT_WINDOWS = (timedelta(days=35), timedelta(days=62))


def freshness_policy(config: JurisdictionConfig) -> FreshnessPolicy:
    live = any(source.mode == "live" for source in config.police)
    warn, fail = LIVE_WINDOWS if live else EXPORT_WINDOWS
    return FreshnessPolicy.time_window(fail_window=fail, warn_window=warn)


def watched_for_freshness(spec: AssetSpec) -> bool:
    path = spec.key.path
    return path[0] == "published" or path[:2] == ["raw", "police"]


def with_policies(defs: Definitions, config: JurisdictionConfig) -> Definitions:
    """``defs`` with the jurisdiction's owners on every asset and the freshness policy on the
    police landings and the published release."""
    policy = freshness_policy(config)
    owners = list(config.publishing.owners)

    def declare(spec: AssetSpec) -> AssetSpec:
        return spec.replace_attributes(
            owners=owners or spec.owners,
            freshness_policy=policy if watched_for_freshness(spec) else spec.freshness_policy,
        )

    with warnings.catch_warnings():  # "in preview": the API is used as documented
        warnings.simplefilter("ignore", PreviewWarning)
        return defs.map_asset_specs(func=declare)
