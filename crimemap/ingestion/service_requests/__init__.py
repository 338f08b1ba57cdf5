"""311 service requests: layouts (``layout``), the conform SQL (``conform``) and the live
Socrata feed (``live``). Rules and the quarantine split live in
``crimemap.quality.service_requests``."""

from crimemap.ingestion.service_requests.layout import (
    ServiceRequestLayout,
    builtin_service_request_layout,
    parse_service_request_layout,
    service_request_layout,
)

__all__ = [
    "ServiceRequestLayout",
    "builtin_service_request_layout",
    "parse_service_request_layout",
    "service_request_layout",
]
