"""How a reader finds its writers (api/writer_heads.py): each `host:port` entry is every address its
name resolves to, at each call; a name that does not resolve is left out, not an error."""

from __future__ import annotations

from logyard.api.writer_heads import resolve


def test_each_entry_is_every_address_of_its_name_once_and_unknown_names_are_left_out():
    got = resolve(["localhost:3100", "127.0.0.1:3101", "127.0.0.1:3101", "no-such-writer.invalid:3100"])
    assert "127.0.0.1:3100" in got
    assert got.count("127.0.0.1:3101") == 1
    assert not any("invalid" in a for a in got)
    assert all(a.endswith((":3100", ":3101")) for a in got)
