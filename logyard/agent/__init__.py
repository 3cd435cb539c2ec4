"""The Promtail-like collector: discovers and reads logs, shapes them, ships them exactly once."""
