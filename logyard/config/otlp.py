"""`limits.otlp_config`: how `/otlp/v1/logs` maps OTLP attributes, in Loki's layout and with Loki's
checks (pkg/loghttp/push/otlplabels/config.go).

Each attribute takes the action of the first rule that names it (or whose regex matches it);
one no rule names is structured metadata. Unless `resource_attributes.ignore_defaults`, Loki's
default index-label list goes first among the resource rules (`effective`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from logyard.gocompat.text import compile_re2
from logyard.ingest.otlp_map import AttributeRule, OtlpRules

# Loki's `distributor.otlp.default_resource_attributes_as_index_labels`: the resource attributes
# that become stream labels unless a tenant says otherwise.
DEFAULT_INDEX_LABELS: tuple[str, ...] = (
    "service.name", "service.namespace", "service.instance.id", "deployment.environment",
    "deployment.environment.name", "cloud.region", "cloud.availability_zone", "k8s.cluster.name",
    "k8s.namespace.name", "k8s.pod.name", "k8s.container.name", "container.name", "k8s.replicaset.name",
    "k8s.deployment.name", "k8s.statefulset.name", "k8s.daemonset.name", "k8s.cronjob.name", "k8s.job.name",
)  # fmt: skip

Action = Literal["index_label", "structured_metadata", "drop"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AttributesConfig(_Strict):
    """One rule: an action for the attributes it names, or for those its regex matches."""

    action: Action = Field(
        "structured_metadata", description="index_label (resource and log attributes only), "
        "structured_metadata or drop.")
    attributes: list[str] = Field(default_factory=list, description="Attribute names (OTLP spelling, with dots).")
    regex: str | None = Field(
        None, description="A Go (RE2) regex matched against the whole attribute name; give this or `attributes`.")

    @field_validator("action", mode="before")
    @classmethod
    def _known_action(cls, value):
        if value in (None, ""):
            return "structured_metadata"  # Loki: an empty action is structured_metadata
        if value not in ("index_label", "structured_metadata", "drop"):
            raise ValueError("unsupported action, it must be one of: drop, index_label, structured_metadata")
        return value

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value):
        if value is not None:
            compile_re2(f"^(?:{value})$")
        return value

    @model_validator(mode="after")
    def _one_selector(self):
        if not self.attributes and self.regex is None:
            raise ValueError("attributes or regex must be set")
        if self.attributes and self.regex is not None:
            raise ValueError("only one of attributes or regex must be set")
        return self

    def rule(self) -> AttributeRule:
        return AttributeRule(self.action, frozenset(self.attributes), self.regex)

    def loki_json(self) -> dict:
        out: dict = {"action": self.action}
        if self.attributes:
            out["attributes"] = list(self.attributes)
        if self.regex is not None:
            out["regex"] = self.regex
        return out


class ResourceAttributesConfig(_Strict):
    ignore_defaults: bool = Field(
        False, description="Leave out Loki's default index-label list (service.name, k8s.pod.name, ...): only "
        "`attributes_config` decides.")
    attributes_config: list[AttributesConfig] = Field(
        default_factory=list, description="Rules for resource attributes, after the default list.")


class OtlpConfig(_Strict):
    """Loki's `limits_config.otlp_config`."""

    resource_attributes: ResourceAttributesConfig = ResourceAttributesConfig()
    scope_attributes: list[AttributesConfig] = Field(
        default_factory=list, description="Rules for scope attributes: structured_metadata or drop.")
    log_attributes: list[AttributesConfig] = Field(
        default_factory=list, description="Rules for log record attributes; index_label makes a stream label.")
    severity_text_as_label: bool = Field(
        False, description="Also make a log record's severity_text the stream label `severity_text`.")

    @field_validator("scope_attributes")
    @classmethod
    def _no_scope_labels(cls, rules: list[AttributesConfig]):
        if any(r.action == "index_label" for r in rules):
            raise ValueError("index_label action is only supported for resource_attributes")
        return rules

    def resource_rules(self) -> list[AttributesConfig]:
        """The resource rules in the order they apply: the defaults first unless ignored."""
        rules = list(self.resource_attributes.attributes_config)
        if not self.resource_attributes.ignore_defaults:
            rules.insert(0, AttributesConfig(action="index_label", attributes=list(DEFAULT_INDEX_LABELS)))
        return rules

    def rules(self) -> OtlpRules:
        """The mapping ingest applies (plain data: it travels to the decode workers)."""
        return OtlpRules(
            resource=tuple(r.rule() for r in self.resource_rules()),
            scope=tuple(r.rule() for r in self.scope_attributes),
            log=tuple(r.rule() for r in self.log_attributes),
            severity_text_as_label=self.severity_text_as_label,
        )

    def loki_json(self) -> dict:
        """The tenant's effective config as Loki's limits endpoints show it (empty parts left out)."""
        resource: dict = {}
        if self.resource_attributes.ignore_defaults:
            resource["ignore_defaults"] = True
        rules = self.resource_rules()
        if rules:
            resource["attributes_config"] = [r.loki_json() for r in rules]
        out: dict = {}
        if resource:
            out["resource_attributes"] = resource
        if self.scope_attributes:
            out["scope_attributes"] = [r.loki_json() for r in self.scope_attributes]
        if self.log_attributes:
            out["log_attributes"] = [r.loki_json() for r in self.log_attributes]
        if self.severity_text_as_label:
            out["severity_text_as_label"] = True
        return out
