"""Separate hosts on one machine, for tests of several logyard nodes: each host is a network namespace
with its own loopback and one address on a private bridge, so a node reaches another only through
the address it was given, as across a real network. Needs root and iproute2 (CI runs as root);
`unavailable()` says why not, for a skip.

The test process itself stays in the root namespace and holds the bridge's first address, so it can
reach every host (and a host can reach a service the test runs on the bridge address, such as an S3
server).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field


def unavailable() -> str | None:
    """Why separate hosts cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    probe = f"lyprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _ip(*args: str, ns: str | None = None) -> None:
    argv = ["ip", "netns", "exec", ns, "ip", *args] if ns else ["ip", *args]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")


@dataclass
class Host:
    name: str
    netns: str
    address: str

    def command(self, argv: list[str]) -> list[str]:
        """`argv` run inside this host (`ip netns exec` execs it: the pid is the command's own)."""
        return ["ip", "netns", "exec", self.netns, *argv]


@dataclass
class Lan:
    """A bridge with hosts on it; `close()` removes everything it made. Names carry the pid so that
    two test runs on one machine do not meet."""

    subnet: int = 213  # 10.<subnet + Lans made before>.<pid-derived>.0/24
    hosts: list[Host] = field(default_factory=list)

    made = 0  # Lans made by this process: a namespace's deletion is asynchronous, so the veth pairs
    # of a Lan just closed may still exist when the next one is made, and must not share its names

    def __post_init__(self) -> None:
        tag = os.getpid() % 100_000
        Lan.made += 1
        self.bridge = f"lyb{tag}{chr(ord('a') + Lan.made % 26)}"
        # Lans of this process may be up at once (tests/cluster/conftest.py's lasts the session): each
        # its own subnet, or the host's routes to both would clash.
        self.prefix = f"10.{self.subnet + (Lan.made - 1) % 16}.{tag % 250}"
        self.address = f"{self.prefix}.1"  # the test process's own address on the LAN
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.address}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    def add_host(self, name: str) -> Host:
        index = len(self.hosts) + 2
        netns = f"ly{self.bridge[3:]}-{index}-{name}"  # the index: tests sharing a Lan may reuse names
        veth, peer = f"lyv{self.bridge[3:]}h{index}", f"lyp{self.bridge[3:]}h{index}"
        host = Host(name, netns, f"{self.prefix}.{index}")
        _ip("netns", "add", netns)
        self.hosts.append(host)
        _ip("link", "add", veth, "type", "veth", "peer", "name", peer)
        _ip("link", "set", veth, "master", self.bridge)
        _ip("link", "set", veth, "up")
        _ip("link", "set", peer, "netns", netns)
        _ip("link", "set", "lo", "up", ns=netns)
        _ip("addr", "add", f"{host.address}/24", "dev", peer, ns=netns)
        _ip("link", "set", peer, "up", ns=netns)
        return host

    def close(self) -> None:
        for host in self.hosts:  # deleting a namespace deletes its end of the veth, and so the pair
            subprocess.run(["ip", "netns", "del", host.netns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        self.hosts.clear()

    def __enter__(self) -> "Lan":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
