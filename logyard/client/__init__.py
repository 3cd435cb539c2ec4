"""`logyard query`, `labels`, `series`, `stats`, `volume`: a logcli for the terminal.

It speaks only Loki's public HTTP API (`http.py`), so it reads a real Loki as well as logyard.
`batching.py` walks a time range in batches, `output.py` prints entries, series and stats as
logcli does, `tail.py` follows a query over the tail websocket, `commands.py` holds the click
commands `logyard.cli` registers.
"""
