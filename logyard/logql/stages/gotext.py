"""Re-export of `logyard.logql.gotext` (Go-compatible quoting, ParseFloat, RE2 helpers), kept at this
path for callers that import it from the stages package."""

from logyard.logql.gotext import compile_re2, go_quote, parse_float, re2_escape

__all__ = ["compile_re2", "go_quote", "parse_float", "re2_escape"]
