"""Go's and Prometheus' behaviour spelled in Python, where logyard must match Loki or Promtail byte
for byte: Go's quoting, `ParseFloat`, white space and regexp error texts (`text`), float printing
(`floatfmt`), `time.Duration` and `model.Duration` printing (`durations`), go-humanize byte sizes
(`humanize`), Go time layouts (`timelayout`, used by the agent's `timestamp` stage and
Docker's timestamps), and what Loki's templates need of Go: fmt's printing (`fmt`) and
`time.Time` with `Format`/`Parse` (`timevalue`).

A leaf package: it imports only `logyard.errors`, `logyard.labels` and `logyard.units`, so both
the server's `logql` and the `agent` use it without depending on each other. Duration *parsing*
lives in `logyard.units`, shared with the configs and the HTTP API.
"""
