"""Storage: WAL, head, columnar blocks, SQLite label index; the only package that touches the data directory."""
