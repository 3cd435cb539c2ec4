"""`ip("…")` matching, shared by the `|= ip(…)` line filter and the `label = ip(…)` label filter.

Loki scans the text for IP-looking tokens (a digit followed by a dot within 4 bytes for IPv4, a
hex group followed by `:` for IPv6), parses each one and tests it against the pattern: one address,
a CIDR prefix or an `a-b` range. The scan is byte-wise and per row; `candidate_regex` is the cheap
vectorized prefilter that rules out rows with no IP-looking token at all.
"""

from __future__ import annotations

import ipaddress

from logyard.errors import BadRequestError

from .gotext import go_quote

_IPV4_CHARSET = frozenset(b"0123456789.")
_IPV6_CHARSET = frozenset(b"0123456789abcdefABCDEF:.")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset(b"0123456789")

# Rows that cannot hold an IPv4 hint (digit then '.' within 3 bytes) nor an IPv6 hint (hex group then ':').
CANDIDATE_REGEX = r"[0-9][0-9.]?[0-9.]?\.|[0-9a-fA-F]:|::[0-9a-fA-F]"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse_addr(text: str) -> Address:
    # Go's netip.ParseAddr rejects zones in prefixes/ranges and IPv4 leading zeros, as ipaddress does.
    if "%" in text:
        raise ValueError(text)
    return ipaddress.ip_address(text)


class IPMatcher:
    """One `ip("…")` pattern: a single address, a CIDR prefix (`10.0.0.0/8`) or a range (`a-b`)."""

    __slots__ = ("pattern", "_single", "_network", "_range")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._single: Address | None = None
        self._network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
        self._range: tuple[Address, Address] | None = None
        try:
            self._single = _parse_addr(pattern)
            return
        except ValueError:
            pass
        if "/" in pattern:
            try:
                # netip.ParsePrefix keeps host bits (Contains masks them), hence strict=False.
                self._network = ipaddress.ip_network(pattern, strict=False)
                return
            except ValueError:
                pass
        if "-" in pattern:
            lo, _, hi = pattern.partition("-")
            try:
                a, b = _parse_addr(lo), _parse_addr(hi)
                if a.version == b.version and a <= b:
                    self._range = (a, b)
                    return
            except ValueError:
                pass
        # Loki's text: ErrIPFilterInvalidPattern wrapped with the quoted pattern.
        raise BadRequestError(f"ip: invalid pattern: {go_quote(pattern)}")

    def contains(self, addr: Address) -> bool:
        if self._single is not None:
            return addr == self._single
        if self._network is not None:
            return addr.version == self._network.version and addr in self._network
        lo, hi = self._range  # type: ignore[misc]
        return addr.version == lo.version and lo <= addr <= hi

    def search(self, text: str) -> bool:
        """True when `text` holds an IP in the pattern, scanning as Loki's ipFilter does."""
        data = text.encode("utf-8", "surrogatepass")
        n = len(data)
        if n == 0:
            return False
        i = 0
        while i < n:
            b0 = data[i]
            if i + 3 < n and b0 in _DIGITS and (data[i + 1] == 0x2E or data[i + 2] == 0x2E or data[i + 3] == 0x2E):
                ok, span = self._try(data, i, _IPV4_CHARSET)
            elif _ipv6_hint(data, i, n):
                ok, span = self._try(data, i, _IPV6_CHARSET)
            else:
                i += 1
                continue
            if ok:
                return True
            # Loki quirk: after a failed candidate the scan skips its span plus one byte.
            i += span + 1
        return False

    def _try(self, data: bytes, start: int, charset: frozenset[int]) -> tuple[bool, int]:
        end = start
        n = len(data)
        while end < n and data[end] in charset:
            end += 1
        try:
            addr = ipaddress.ip_address(data[start:end].decode("ascii"))
        except ValueError:
            return False, end - start
        if self.contains(addr):
            return True, 0
        return False, end - start


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

