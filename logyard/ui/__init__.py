"""The built-in log explorer: static assets (plain JS modules, no build step) served at `/`.

It talks to the server only through the public HTTP API, as Grafana or logcli would.
"""
