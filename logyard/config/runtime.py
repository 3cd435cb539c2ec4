"""Per-tenant limits: the `limits:` section as every tenant's default, and the runtime file's
overrides on top (Loki's layout, `overrides: {<tenant>: {<limits keys>}}`).

Pure: `parse_overrides` validates a file's text with the main config's line-precise errors, and
`Overrides` answers `limits_for(tenant)`. Watching the file is the server's job (api/runtime.py).
An override names only the keys it changes; the rest come from `limits:`, as in Loki.
"""

from __future__ import annotations

import threading

import yaml
from pydantic import Field

from logyard.config.loader import parse_model
from logyard.config.server import LimitsSection, _Strict


class RuntimeFile(_Strict):
    """The runtime file. Loki's holds more sections (multi_kv_config, configs); logyard reads its limits."""

    overrides: dict[str, LimitsSection] = Field(default_factory=dict, description="Limits per tenant.")


def parse_overrides(text: str, base: LimitsSection, source: str = "<runtime config>") -> dict[str, LimitsSection]:
    """Each tenant's limits: `base` with the keys its override sets. ConfigError naming file, line
    and key path when the text is not valid."""
    parsed = parse_model(text, RuntimeFile, source)
    return {tenant: merged(base, partial) for tenant, partial in parsed.overrides.items()}


def merged(base: LimitsSection, partial: LimitsSection) -> LimitsSection:
    """`base` with the fields set in `partial` (the keys the file names), validated again."""
    changes = {name: getattr(partial, name) for name in partial.model_fields_set}
    return LimitsSection.model_validate({**base.model_dump(), **changes})


class Overrides:
    """The limits in force: one lookup, `limits_for(tenant)`, used by every limit check. `generation`
    grows with each change, so callers may cache what they derive from a tenant's limits."""

    def __init__(self, base: LimitsSection, tenants: dict[str, LimitsSection] | None = None) -> None:
        self.base = base
        self._tenants = dict(tenants or {})
        self.generation = 0
        self._lock = threading.Lock()

    def limits_for(self, tenant: str) -> LimitsSection:
        return self._tenants.get(tenant, self.base)

    def replace(self, tenants: dict[str, LimitsSection]) -> None:
        with self._lock:
            self._tenants = dict(tenants)
            self.generation += 1

    def tenants(self) -> dict[str, LimitsSection]:
        return dict(self._tenants)

    def to_yaml(self, diff: bool = False) -> str:
        """Loki's `/runtime_config`: the overrides in force, every key of each tenant's limits; with
        `diff`, only the keys that differ from `limits:` (Loki's `?mode=diff`)."""
        base = self.base.model_dump(mode="json")
        out = {}
        for tenant, lim in sorted(self._tenants.items()):
            doc = lim.model_dump(mode="json")
            out[tenant] = {k: v for k, v in doc.items() if v != base.get(k)} if diff else doc
        return yaml.safe_dump({"overrides": out}, sort_keys=False)
