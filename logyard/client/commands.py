"""The click commands `logyard query`, `labels`, `series`, `stats` and `volume`, named and behaving
like logcli's where that makes sense (flags, defaults, output), registered by `logyard.cli`.

They are the edge: flags and environment are read here, errors become one line on stderr and exit
code 1 (a usage error: 2), and everything else is in the modules beside this one.
"""

from __future__ import annotations

import functools
import os
import sys
from datetime import timezone, tzinfo
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from logyard.client import batching, tail
from logyard.client.http import DEFAULT_ADDR, LokiClient
from logyard.client.output import (
    MODES, TIMESTAMP_FORMATS, EntryPrinter, OutputOptions, analyze_series, format_index_stats,
    format_query_stats, format_result, format_series, use_colour,
)
from logyard.client.times import parse_step, parse_time, time_range
from logyard.errors import LogyardError
from logyard.units import SECOND

QUERY_RANGE = "/loki/api/v1/query_range"
QUERY = "/loki/api/v1/query"
PROGRESS_STEPS = 1000


def connection_options(f: Callable) -> Callable:
    """--addr, --org-id, --username, --password, --quiet: every command, each with logcli's variable."""
    for option in reversed((
        click.option("--addr", envvar="LOKI_ADDR", default=DEFAULT_ADDR, show_default=True, show_envvar=True,
                     help="The Loki (or logyard) to ask, with any path prefix of a gateway."),
        click.option("--org-id", envvar="LOKI_ORG_ID", show_envvar=True,
                     help="Tenant, sent as X-Scope-OrgID (a server with auth_enabled needs one)."),
        click.option("--username", envvar="LOKI_USERNAME", show_envvar=True, help="HTTP basic auth user."),
        click.option("--password", envvar="LOKI_PASSWORD", show_envvar=True, help="HTTP basic auth password."),
        click.option("--quiet", "-q", is_flag=True, help="Print no metadata on stderr (URLs asked, common labels)."),
    )):
        f = option(f)
    return f


def range_options(f: Callable) -> Callable:
    for option in reversed((
        click.option("--since", default="1h", show_default=True, help="Lookback window, ending at --to."),
        click.option("--from", "from_", metavar="TIME",
                     help="Start (inclusive): RFC 3339 (2026-01-01T10:00:00Z) or unix seconds."),
        click.option("--to", metavar="TIME", help="End (exclusive), as --from; default now."),
    )):
        f = option(f)
    return f


def output_options(f: Callable) -> Callable:
    for option in reversed((
        click.option("--output", "-o", type=click.Choice(MODES), default="default", show_default=True,
                     help="default: `<timestamp> <labels> <line>`; raw: the line alone; "
                          "jsonl: one JSON object per entry."),
        click.option("--timezone", "-z", default="Local", show_default=True,
                     help="Zone of printed timestamps: Local, UTC or a name like Europe/Paris."),
        click.option("--output-timestamp-format", type=click.Choice(TIMESTAMP_FORMATS), default="rfc3339",
                     show_default=True, help="Timestamps of the default output."),
        click.option("--no-labels", is_flag=True, help="Print no labels."),
        click.option("--include-label", multiple=True, metavar="NAME",
                     help="Print only these labels (repeat for more)."),
        click.option("--exclude-label", multiple=True, metavar="NAME",
                     help="Do not print these labels (repeat for more)."),
        click.option("--include-common-labels", is_flag=True,
                     help="Print the labels common to all streams on every line, not once on stderr."),
    )):
        f = option(f)
    return f


def reports_errors(f: Callable) -> Callable:
    """A Loki error, an unreachable server, a bad flag value: one line and exit 1 (flags: 2)."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except LogyardError as exc:
            raise click.ClickException(exc.message) from None
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        except BrokenPipeError:  # `logyard query ... | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        except KeyboardInterrupt:
            sys.exit(0)
    return wrapper


def make_client(addr: str, org_id: str | None, username: str | None, password: str | None,
                quiet: bool) -> LokiClient:
    log = None if quiet else (lambda url: click.echo(url, err=True))
    return LokiClient(addr, org_id=org_id, username=username, password=password, on_request=log)


def zone(name: str) -> tzinfo | None:
    if name.lower() == "local":
        return None
    if name.upper() == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"--timezone {name!r} is not a zone: use Local, UTC or a name like Europe/Paris") from None


QUERY_HELP = """Run a LogQL query and print the answer: log lines, or a metric query's series.

\b
Log lines print as `<timestamp> <labels> <line>`, newest first (--forward: oldest first); the
labels all streams share are said once on stderr. Up to --limit lines (0: all), asked --batch at a
time, walking back through the range: any number of lines, without gaps or repeats.

\b
Examples:
  logyard query '{compose_service="api"}'                        # the last 30 lines of the last hour
  logyard query '{compose_service="api"} |= "error"' --since 24h --limit 200
  logyard query '{job="varlogs"}' --from 2026-01-01T00:00:00Z --to 2026-01-02T00:00:00Z --limit 0 -o raw > day.log
  logyard query '{compose_project="shop"} | json | level="error"' -o jsonl | jq .line
  logyard query 'sum by (compose_service) (count_over_time({compose_project="shop"}[5m]))' --step 5m
  logyard query 'topk(3, sum by (container) (rate({compose_project="shop"}[10m])))' --instant
  logyard query '{compose_service="api"}' --tail                  # follow it live; Ctrl-C stops

The server is --addr (LOKI_ADDR), by default the one `logyard up` runs; any Loki works.
"""


@click.command("query", help=QUERY_HELP)
@click.argument("logql", metavar="'LOGQL'")
@range_options
@click.option("--limit", type=click.IntRange(min=0), default=30, show_default=True,
              help="Most entries to print; 0 prints them all.")
@click.option("--batch", type=click.IntRange(min=1), default=1000, show_default=True,
              help=f"Entries asked per request until --limit is reached (at most {batching.LOKI_MAX_ENTRIES}, "
                   f"Loki's default max_entries_limit_per_query).")
@click.option("--forward", is_flag=True, help="Oldest entries first (default: newest first).")
@click.option("--step", help="Resolution of a metric query (15s, 1m, or seconds); default: Loki's, the range/250.")
@click.option("--interval", help="Return log entries at this interval only, skipping those between (Loki's "
                                 "experimental `interval`).")
@click.option("--instant", is_flag=True, help="An instant query (/loki/api/v1/query) at --now, for metric queries.")
@click.option("--now", metavar="TIME", help="Time of an --instant query (default: now), as --from.")
@click.option("--tail", "-t", "--follow", "-f", "tail_", is_flag=True,
              help="Follow the query live: the last --limit entries of --since, then each new one.")
@click.option("--delay-for", type=click.IntRange(0, 5), default=0, show_default=True,
              help="With --tail: hold entries this many seconds, so late ones come out in order.")
@click.option("--stats", is_flag=True, help="Print the query's statistics (data.stats summary) on stderr.")
@output_options
@connection_options
@reports_errors
def query(logql: str, since: str, from_: str | None, to: str | None, limit: int, batch: int, forward: bool,
          step: str | None, interval: str | None, instant: bool, now: str | None, tail_: bool, delay_for: int,
          stats: bool, output: str, timezone: str, output_timestamp_format: str, no_labels: bool,
          include_label: tuple[str, ...], exclude_label: tuple[str, ...], include_common_labels: bool,
          addr: str, org_id: str | None, username: str | None, password: str | None, quiet: bool) -> None:
    out, err = sys.stdout, sys.stderr
    opts = OutputOptions(mode=output, tz=zone(timezone), no_labels=no_labels, colour=use_colour(out, os.environ),
                         nano=output_timestamp_format == "rfc3339nano", include=include_label,
                         exclude=exclude_label, include_common=include_common_labels, quiet=quiet)
    printer = EntryPrinter(opts, out, err)
    direction = "forward" if forward else "backward"
    if tail_:
        start, _ = time_range(since, from_, None)
        with make_client(addr, org_id, username, password, quiet) as client:
            _follow(client, logql, start, limit, delay_for, printer, quiet)
        return
    if instant:
        params = {"query": logql, "limit": str(limit or batching.LOKI_MAX_ENTRIES), "direction": direction}
        if now:
            params["time"] = str(parse_time(now, "--now"))
        with make_client(addr, org_id, username, password, quiet) as client:
            _print_data(client.get(QUERY, params)["data"], printer, output, stats, opts.colour, forward)
        return
    start, end = time_range(since, from_, to)
    extra = {"direction": direction}
    if step:
        extra["step"] = _seconds(parse_step(step))
    if interval:
        extra["interval"] = _seconds(parse_step(interval, "--interval"))
    progress = _progress_bar(err, out, quiet, limit == 0 or limit > batch)
    # logcli logs each URL asked on stderr; under a progress bar they would cut through it
    with make_client(addr, org_id, username, password, quiet or progress is not None) as client:

        def ask(lo: int, hi: int, n: int) -> dict:
            params = {"query": logql, "limit": str(n), "start": str(lo), "end": str(hi), **extra}
            return client.get(QUERY_RANGE, params)["data"]

        try:
            for b in batching.walk(ask, start, end, limit, batch, forward):
                _print_data(b.data, printer, output, stats, opts.colour, forward, b.entries)
                if progress is not None:
                    progress.update(int(b.progress * PROGRESS_STEPS) - progress.pos)
        finally:
            if progress is not None:
                progress.render_finish()


def _follow(client: LokiClient, logql: str, start: int, limit: int, delay_for: int, printer: EntryPrinter,
            quiet: bool) -> None:
    out, err = sys.stdout, sys.stderr

    def on_frame(entries, dropped):
        printer.print_batch(entries, tail=True)
        out.flush()  # a pipe is block-buffered: the reader sees each frame as it comes
        if dropped and not quiet:
            err.write("Server dropped following entries due to slow client\n")
            err.writelines(f"{d.get('timestamp')} {d.get('labels')}\n" for d in dropped)

    notice = (lambda text: None) if quiet else (lambda text: click.echo(text, err=True))
    tail.follow(client, logql, start, limit or batching.LOKI_MAX_ENTRIES, delay_for, on_frame, notice)


def _print_data(data: dict, printer: EntryPrinter, mode: str, stats: bool, colour: bool, forward: bool,
                entries: list | None = None) -> None:
    """One answer: its statistics on stderr (--stats), then its entries (those given, for a batch of
    a walk) or its metric result."""
    if stats:
        sys.stderr.write(format_query_stats(data.get("stats"), colour))
    if data.get("resultType") == "streams":
        if entries is None:
            entries = batching.stream_entries(data.get("result") or [], forward)
        printer.print_batch(entries)
    else:
        sys.stdout.write(format_result(data.get("resultType", ""), data.get("result"), mode))


def _seconds(ns: int) -> str:
    """Loki's float seconds, exactly (`1234567`, `0.5`): `%g` would round a long step."""
    if ns < 0:
        return "-" + _seconds(-ns)
    whole, frac = divmod(ns, SECOND)
    return str(whole) if not frac else f"{whole}.{frac:09d}".rstrip("0")


def _progress_bar(err, out, quiet: bool, batched: bool):
    """A bar on stderr for a batched fetch, when stderr is a terminal and the lines go elsewhere (a file,
    a pipe): redrawn on the terminal the lines are printed to, it would cut through them."""
    if quiet or not batched or not err.isatty() or out.isatty():
        return None
    bar = click.progressbar(length=PROGRESS_STEPS, label="fetching", file=err, show_eta=False)
    bar.render_progress()
    return bar


@click.command("labels")
@click.argument("name", required=False)
@range_options
@connection_options
@reports_errors
def labels(name: str | None, since: str, from_: str | None, to: str | None, addr: str, org_id: str | None,
           username: str | None, password: str | None, quiet: bool) -> None:
    """List label names, or the values of label NAME, seen in the range.

    \b
    Examples:
      logyard labels                      # names of the last hour
      logyard labels compose_service      # its values
      logyard labels container --since 7d
    """
    start, end = time_range(since, from_, to)
    path = f"/loki/api/v1/label/{name}/values" if name else "/loki/api/v1/labels"
    with make_client(addr, org_id, username, password, quiet) as client:
        values = client.get(path, {"start": str(start), "end": str(end)}).get("data") or []
    click.echo("".join(f"{v}\n" for v in values), nl=False)


@click.command("series")
@click.argument("matchers", nargs=-1, required=True, metavar="MATCHER...")
@range_options
@click.option("--analyze-labels", is_flag=True,
              help="Print a summary per label name (distinct values, streams it is in) instead: high "
                   "cardinality shows at the top.")
@connection_options
@reports_errors
def series(matchers: tuple[str, ...], since: str, from_: str | None, to: str | None, analyze_labels: bool,
           addr: str, org_id: str | None, username: str | None, password: str | None, quiet: bool) -> None:
    """List the streams (label sets) matching any of the MATCHERs (Loki's `match[]`).

    \b
    Examples:
      logyard series '{compose_project="shop"}'
      logyard series '{compose_service="api"}' '{compose_service="db"}' --since 24h
      logyard series '{job=~".+"}' --analyze-labels
    """
    start, end = time_range(since, from_, to)
    params = [("match[]", m) for m in matchers] + [("start", str(start)), ("end", str(end))]
    with make_client(addr, org_id, username, password, quiet) as client:
        found = client.get("/loki/api/v1/series", params).get("data") or []
    click.echo(analyze_series(found) if analyze_labels else format_series(found), nl=False)


@click.command("stats")
@click.argument("matcher")
@range_options
@connection_options
@reports_errors
def stats(matcher: str, since: str, from_: str | None, to: str | None, addr: str, org_id: str | None,
          username: str | None, password: str | None, quiet: bool) -> None:
    """How much the streams matching MATCHER hold in the range: bytes, chunks, streams, entries
    (Loki's /index/stats).

    \b
    Examples:
      logyard stats '{compose_project="shop"}'
      logyard stats '{job="varlogs"}' --since 7d
    """
    start, end = time_range(since, from_, to)
    with make_client(addr, org_id, username, password, quiet) as client:
        answer = client.get("/loki/api/v1/index/stats", {"query": matcher, "start": str(start), "end": str(end)})
    click.echo(format_index_stats(answer, use_colour(sys.stdout, os.environ)), nl=False)


@click.command("volume")
@click.argument("matcher")
@range_options
@click.option("--limit", type=click.IntRange(min=1), default=30, show_default=True,
              help="Most series to return volumes for.")
@click.option("--aggregate-by", type=click.Choice(("series", "labels")), default="series", show_default=True,
              help="series: one volume per label set; labels: one per label name.")
@click.option("--targets", "targets", multiple=True, metavar="LABELS",
              help="Aggregate into these labels (comma-separated or repeated), e.g. --targets compose_service.")
@click.option("--step", help="Print volumes over time (/index/volume_range) in buckets of this size, e.g. 1h.")
@click.option("--output", "-o", type=click.Choice(MODES), default="default", show_default=True,
              help="default: Loki's JSON, indented; raw or jsonl: one series a line.")
@connection_options
@reports_errors
def volume(matcher: str, since: str, from_: str | None, to: str | None, limit: int, aggregate_by: str,
           targets: tuple[str, ...], step: str | None, output: str, addr: str, org_id: str | None,
           username: str | None, password: str | None, quiet: bool) -> None:
    """Bytes of the streams matching MATCHER in the range, largest first (Loki's /index/volume).

    \b
    Examples:
      logyard volume '{compose_project="shop"}'
      logyard volume '{compose_project="shop"}' --targets compose_service --since 24h
      logyard volume '{job=~".+"}' --aggregate-by labels
      logyard volume '{compose_project="shop"}' --targets compose_service --step 1h
    """
    start, end = time_range(since, from_, to)
    params = {"query": matcher, "start": str(start), "end": str(end), "limit": str(limit),
              "aggregateBy": aggregate_by}
    names = [n.strip() for t in targets for n in t.split(",") if n.strip()]
    if names:
        params["targetLabels"] = ",".join(names)
    path = "/loki/api/v1/index/volume"
    if step:
        params["step"] = _seconds(parse_step(step))
        path += "_range"
    with make_client(addr, org_id, username, password, quiet) as client:
        data = client.get(path, params)["data"]
    click.echo(format_result(data.get("resultType", ""), data.get("result"), output), nl=False)


EXPORT_HELP = """Write every log line of a time range as plain Parquet: one row per line, for DuckDB,
Spark, Polars or any Parquet reader.

\b
DEST is a local directory, or a URI pyarrow opens (s3://bucket/prefix). It gets one file per tenant
per --file-window (UTC days by default): DEST/<tenant>/2026-01-01.parquet, zstd compressed, written
as .partial and renamed when complete; windows without lines get no file.

\b
Columns: tenant, timestamp (ns, UTC), stream (the labels as {a="b"}), labels and
structured_metadata (maps), line (the line as stored, byte for byte). Rows are in time order
within each group of streams asked together (ORDER BY timestamp when order matters).

\b
The lines come from the server's query API (--addr), so an export holds exactly what queries see:
recent unflushed lines included, deleted and retention-expired lines left out, and it is safe while
the server runs; any Loki works. --from is inclusive and --to exclusive, as for query_range.
Without --query every stream of the tenant is exported; --query restricts it to a log query
('{app="api"}', '{app="api"} |= "error"'). A query that reformats lines (line_format) exports
what it prints. --org-id 'a|b' exports several tenants.

\b
Examples:
  logyard export ./export --from 2026-01-01T00:00:00Z --to 2026-01-08T00:00:00Z
  logyard export ./api --query '{compose_service="api"}' --since 24h --file-window 1h
  logyard export s3://logs-archive/logyard --org-id 'team-a|team-b' --since 7d
  duckdb -c "SELECT count(*) FROM read_parquet('export/*/*.parquet')"
"""


@click.command("export", help=EXPORT_HELP)
@click.argument("dest")
@range_options
@click.option("--query", "logql", metavar="'LOGQL'", help="Export only what this log query returns (default: every stream).")
@click.option("--file-window", default="24h", show_default=True,
              help="One file per tenant per window of this size, aligned to the epoch (UTC days for 24h).")
@click.option("--row-group-rows", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Rows per Parquet row group (at most; a group also ends at 64 MiB of line text).")
@click.option("--overwrite", is_flag=True, help="Replace files of the same name (default: stop at the first).")
@connection_options
@reports_errors
def export(dest: str, since: str, from_: str | None, to: str | None, logql: str | None, file_window: str,
           row_group_rows: int, overwrite: bool, addr: str, org_id: str | None, username: str | None,
           password: str | None, quiet: bool) -> None:
    # Imported here: pyarrow costs every other command (the agent among them) ~50 MiB and a second.
    from logyard.client import export as exporting

    start, end = time_range(since, from_, to)
    window = parse_step(file_window, "--file-window")
    if window <= 0:
        raise ValueError("--file-window must be positive")
    tenants = exporting.tenants_of(org_id)
    fs, base = exporting.destination(dest)
    summary = exporting.Summary()
    files = exporting.ParquetFiles(fs, base, summary, row_group_rows=row_group_rows, overwrite=overwrite)
    clients = {t: LokiClient(addr, org_id=t if org_id else None, username=username, password=password,
                             encoding_flags=exporting.CATEGORIZE_LABELS) for t in tenants}
    progress = None
    if not quiet and sys.stderr.isatty():  # the summary, not a bar, goes to a log or a pipe
        progress = click.progressbar(length=PROGRESS_STEPS, label="exporting", file=sys.stderr, show_eta=False)
        progress.render_progress()

    def advance(fraction: float) -> None:
        if progress is not None:
            progress.update(max(0, int(fraction * PROGRESS_STEPS) - progress.pos))

    try:
        exporting.export(clients, logql, start, end, window, files, advance)
    finally:
        if progress is not None:
            progress.render_finish()
        for c in clients.values():
            c.close()
    if not quiet:
        click.echo(summary.text())


COMMANDS = (query, labels, series, stats, volume, export)
