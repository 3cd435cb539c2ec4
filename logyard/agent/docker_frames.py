"""What the body of Docker's logs endpoint means: frames, then timestamped lines. Pure, over bytes.

`GET /containers/{id}/logs?timestamps=1` answers, for a container without a TTY, with multiplexed
frames: an 8-byte header (stream kind 0/1/2, three zero bytes, big-endian payload length) and the
payload. A TTY container has one raw stream and no frames. Each message starts with its
RFC3339Nano time and a space; Docker cuts messages over 16 KiB into parts, only the last of which
ends with a newline.

`Demuxer` turns pieces of the body, cut anywhere, into (stream, payload) pairs; `LineAssembler`
turns those into (stream, time ns, line) rows. Neither does I/O: `docker_reader` feeds them.
"""

from __future__ import annotations

import struct

from logyard.gocompat.timelayout import parse_rfc3339

STREAMS = {1: "stdout", 2: "stderr"}  # 0 is stdin, which a logs body does not carry
HEADER = struct.Struct(">B3xI")  # stream kind, 3 zero bytes, payload length


class Demuxer:
    """(stream, payload) pairs from the logs endpoint's body, fed in pieces of any size."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.buf = b""

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        if self.tty:
            return [("stdout", data)] if data else []
        buf = self.buf + data if self.buf else data
        out, off = [], 0
        while len(buf) - off >= 8:
            kind, size = HEADER.unpack_from(buf, off)
            if len(buf) - off - 8 < size:
                break
            out.append((STREAMS.get(kind, "stdout"), buf[off + 8 : off + 8 + size]))
            off += 8 + size
        self.buf = buf[off:]
        return out


class LineAssembler:
    """(stream, time, line) from demultiplexed payloads of `timestamps=1` logs.

    Without a TTY every frame is one message, `<RFC3339Nano time> <text>`; Docker cuts messages over
    16 KiB into parts without the final newline, which are joined here under the first part's time.
    A TTY stream has no frames: it is split at newlines and each line has its time in front.
    """

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.partial: dict[str, tuple[int, bytes]] = {}
        self.carry: dict[str, bytes] = {}

    def feed(self, stream: str, payload: bytes) -> list[tuple[str, int, bytes]]:
        out = []
        if self.tty:
            parts = (self.carry.pop(stream, b"") + payload).split(b"\n")
            rest = parts.pop()
            if rest:
                self.carry[stream] = rest
            for raw in parts:
                ts_text, _, line = raw.partition(b" ")
                ts = _timestamp(ts_text)
                if ts is not None:
                    out.append((stream, ts, line.rstrip(b"\r")))
            return out
        ts_text, _, text = payload.partition(b" ")
        ts = _timestamp(ts_text)
        if ts is None:
            return out
        held = self.partial.pop(stream, None)
        if held is not None:
            ts, text = held[0], held[1] + text
        if text.endswith(b"\n"):
            out.append((stream, ts, text[:-1]))
        else:
            self.partial[stream] = (ts, text)
        return out

    def rest(self) -> list[tuple[str, int, bytes]]:
        """What is left when the stream ends (a last line without its newline)."""
        out = [(s, ts, text) for s, (ts, text) in self.partial.items()]
        for s, raw in self.carry.items():
            ts_text, _, line = raw.partition(b" ")
            ts = _timestamp(ts_text)
            if ts is not None:
                out.append((s, ts, line.rstrip(b"\r")))
        self.partial.clear()
        self.carry.clear()
        return out


def _timestamp(text: bytes) -> int | None:
    try:
        return parse_rfc3339(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
