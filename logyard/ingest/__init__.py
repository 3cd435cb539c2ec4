"""Decoding of push payloads (Loki JSON, protobuf + snappy, gzip) into plain column batches."""
