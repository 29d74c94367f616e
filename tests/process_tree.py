"""What ``ps``, ``/proc`` and ``ss -ltn`` show about processes: the operator's view in the journey tests.

Read straight from ``/proc`` (Linux), so a test sees exactly what any local user would:
``cmdline`` is world-readable, ``environ`` readable by the owner and root.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, their children, ...)."""
    seen: list[int] = []
    todo = children(pid)
    while todo:
        child = todo.pop()
        if child not in seen:
            seen.append(child)
            todo += children(child)
    return seen


def _read(pid: int, name: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:  # it exited meanwhile
        return b""


def cmdline(pid: int) -> str:
    return _read(pid, "cmdline").replace(b"\0", b" ").decode(errors="replace")


def environ(pid: int) -> str:
    return _read(pid, "environ").replace(b"\0", b"\n").decode(errors="replace")


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    # /proc/net/tcp* holds the address as 32-bit words in host (little-endian) order.
    swapped = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(swapped)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ip.ipv4_mapped) if ip.ipv4_mapped is not None else f"[{ip}]"
    return str(ip)


def listening_addresses(pids: list[int]) -> dict[int, list[str]]:
    """``{pid: ["127.0.0.1:PORT", ...]}``: the TCP sockets each process listens on (``ss -ltnp``)."""
    listening: dict[str, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                address, port = fields[1].split(":")
                listening[fields[9]] = f"{_address(address)}:{int(port, 16)}"
    return {pid: sorted(listening[i] for i in _socket_inodes(pid) if i in listening) for pid in pids}


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address.rsplit(":", 1)[0].strip("[]")).is_loopback
