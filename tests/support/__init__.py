"""Helpers shared by end-to-end tests: a real `logyard serve` process on loopback."""
