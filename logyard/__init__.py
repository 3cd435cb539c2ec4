"""logyard: Loki-compatible log aggregation for container stacks."""

__version__ = "0.1.0"
