"""Which tenant a request belongs to: Loki's X-Scope-OrgID rules."""

from __future__ import annotations

import re

from logyard.errors import LogyardError

DEFAULT_TENANT = "fake"  # Loki's tenant when auth_enabled is false
_TENANT_RE = re.compile(r"^[a-zA-Z0-9!\-_.*'()]{1,150}$")


class UnauthorizedError(LogyardError):
    status = 401


def tenant_of(headers, auth_enabled: bool) -> str:
    if not auth_enabled:
        return DEFAULT_TENANT
    org = headers.get("x-scope-orgid", "")
    if not org:
        raise UnauthorizedError("no org id")
    if "|" in org:
        raise UnauthorizedError("multi-tenant queries are not supported by logyard yet")
    if not _TENANT_RE.match(org) or org in (".", ".."):
        raise UnauthorizedError(f"tenant ID '{org}' contains unsupported character")
    return org
