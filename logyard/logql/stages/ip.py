"""`ip("…")` matching, shared by the `|= ip(…)` line filter and the `label = ip(…)` label filter.

Loki scans the text for IP-looking tokens (a digit followed by a dot within 4 bytes for IPv4, a
hex group followed by `:` for IPv6), parses each one and tests it against the pattern: one address,
a CIDR prefix or an `a-b` range. The scan is byte-wise and per row; `candidate_regex` is the cheap
vectorized prefilter that rules out rows with no IP-looking token at all.
"""

from __future__ import annotations

import ipaddress
import re

from logyard.errors import BadRequestError
from logyard.gocompat.text import go_quote

_IPV4_SPAN = re.compile(rb"[0-9.]*")
_IPV6_SPAN = re.compile(rb"[0-9a-fA-F:.]*")
# Positions where Loki's ipv4Hint (digit, then '.' within 3 bytes) or ipv6Hint holds.
_HINT = re.compile(rb"(?s)(?P<v4>[0-9](?=\.|.\.|..\.))|::[0-9a-fA-F]|[0-9a-fA-F]{1,4}:")
_HEX = frozenset(b"0123456789abcdefABCDEF")

# Vectorized prefilters: a row can only match when it holds a token shaped like an address of the
# pattern's family (an IPv4 pattern never matches an IPv6 or IPv4-in-IPv6 address, as in Go's netip).
CANDIDATE_REGEX_V4 = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
CANDIDATE_REGEX_V6 = r"::|(?:[0-9a-fA-F]{1,4}:){6}"  # "::" or the full eight-group form

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse_addr(text: str, zone_ok: bool = False) -> Address:
    # netip: a zone (`fe80::1%eth0`) is fine for one address (it then never equals a scanned,
    # zoneless address) but not in a range; IPv4 leading zeros are rejected, as by ipaddress.
    if "%" in text and not zone_ok:
        raise ValueError(text)
    return ipaddress.ip_address(text)


class IPMatcher:
    """One `ip("…")` pattern: a single address, a CIDR prefix (`10.0.0.0/8`) or a range (`a-b`)."""

    __slots__ = ("pattern", "_single", "_network", "_range", "version", "_seen")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._single: Address | None = None
        self._network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
        self._range: tuple[Address, Address] | None = None
        self.version = 4
        self._seen: dict[bytes, bool] = {}
        try:
            self._single = _parse_addr(pattern, zone_ok=True)
            self.version = self._single.version
            return
        except ValueError:
            pass
        if "/" in pattern:
            try:
                # netip.ParsePrefix keeps host bits (Contains masks them), hence strict=False.
                self._network = ipaddress.ip_network(pattern, strict=False)
                self.version = self._network.version
                return
            except ValueError:
                pass
        if "-" in pattern:
            lo, _, hi = pattern.partition("-")
            try:
                a, b = _parse_addr(lo), _parse_addr(hi)
                if a.version == b.version and a <= b:
                    self._range = (a, b)
                    self.version = a.version
                    return
            except ValueError:
                pass
        # Loki's text: ErrIPFilterInvalidPattern wrapped with the quoted pattern.
        raise BadRequestError(f"ip: invalid pattern: {go_quote(pattern)}")

    @property
    def candidate_regex(self) -> str:
        return CANDIDATE_REGEX_V4 if self.version == 4 else CANDIDATE_REGEX_V6

    def contains(self, addr: Address) -> bool:
        if self._single is not None:
            return addr == self._single
        if self._network is not None:
            return addr.version == self._network.version and addr in self._network
        lo, hi = self._range  # type: ignore[misc]
        return addr.version == lo.version and lo <= addr <= hi

    def search(self, text: str) -> bool:
        """True when `text` holds an IP in the pattern, scanning as Loki's ipFilter does.

        Loki steps byte by byte; here a regex jumps to the next position where Loki's IPv4 or
        IPv6 hint holds, which visits the same positions in the same order.
        """
        data = text.encode("utf-8", "surrogatepass")
        n = len(data)
        i = 0
        while i < n:
            m = _HINT.search(data, i)
            if m is None:
                return False
            i = m.start()
            if m.group("v4") is not None and i + 3 < n:
                ok, span = self._try(data, i, _IPV4_SPAN)
            elif _ipv6_hint(data, i, n):
                ok, span = self._try(data, i, _IPV6_SPAN)
            else:
                i += 1
                continue
            if ok:
                return True
            # Loki quirk: after a failed candidate the scan skips its span plus one byte.
            i += span + 1
        return False

    def _try(self, data: bytes, start: int, charset: re.Pattern[bytes]) -> tuple[bool, int]:
        m = charset.match(data, start)
        end = m.end() if m else start
        token = data[start:end]
        hit = self._seen.get(token)
        if hit is None:
            hit = self._test_token(token)
            if len(self._seen) < 65536:  # tokens (addresses, timestamps) repeat across lines
                self._seen[token] = hit
        return (True, 0) if hit else (False, end - start)

    def _test_token(self, token: bytes) -> bool:
        # An address of the other family never matches (Go's netip), so skip parsing it.
        if (b":" in token) != (self.version == 6):
            return False
        try:
            addr = ipaddress.ip_address(token.decode("ascii"))
        except ValueError:
            return False
        return self.contains(addr)


def _ipv6_hint(data: bytes, i: int, n: int) -> bool:
    def at(k: int) -> int:
        return data[k] if k < n else 0

    c0, c1, c2, c3, c4 = at(i), at(i + 1), at(i + 2), at(i + 3), at(i + 4)
    colon = 0x3A
    return (
        (c0 == colon and c1 == colon and c2 in _HEX)
        or (c0 in _HEX and c1 == colon)
        or (c0 in _HEX and c1 in _HEX and c2 == colon)
        or (c0 in _HEX and c1 in _HEX and c2 in _HEX and c3 == colon)
        or (c0 in _HEX and c1 in _HEX and c2 in _HEX and c3 in _HEX and c4 == colon)
    )

