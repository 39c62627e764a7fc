"""Which broker node a process is connected to, read from the kernel: the remote ports of the
process's established TCP sockets (/proc/<pid>/fd and /proc/net/tcp). The process is not asked,
so a relay or a consumer needs no hook of its own to be found; a node is matched by its AMQP
port (a local node's own port, a container's published one)."""

from __future__ import annotations

import os
from pathlib import Path

ESTABLISHED = "01"
TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed between the listing and the read
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def remote_ports(pid: int) -> set[int]:
    """The remote ports of `pid`'s established TCP connections (IPv4 and IPv6)."""
    inodes = _socket_inodes(pid)
    ports = set()
    for table in TABLES:
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            if len(fields) > 9 and fields[3] == ESTABLISHED and fields[9] in inodes:
                ports.add(int(fields[2].rsplit(":", 1)[1], 16))
    return ports
