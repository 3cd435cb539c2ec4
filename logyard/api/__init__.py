"""Loki's HTTP API: thin routes that parse a request, call ingest/storage/logql, and encode the answer."""
