"""Open netlink handles for the live engine, inside a chosen network namespace.

This is the only module that constructs pyroute2 objects. It imports pyroute2
inside its functions, so importing it stays cheap for commands that never touch
the running kernel.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any, Optional

from bridgecfg.errors import HostConflict

log = logging.getLogger(__name__)

NETNS_RUN_DIR = "/run/netns"

# A pyroute2 IPRoute. pyroute2 ships no type information, so handles are typed
# as Any at the boundary.
NetlinkHandle = Any


def netns_path(netns: str) -> str:
    """Return the bind-mount path that `ip netns add NAME` creates."""
    if not netns or "/" in netns or netns in (".", ".."):
        raise HostConflict(f"invalid network namespace name {netns!r}")
    return os.path.join(NETNS_RUN_DIR, netns)


def _namespace_inode(path: str) -> int:
    return os.stat(path).st_ino


def _reference_inode() -> int:
    # The namespace of PID 1 is the host's root namespace. Reading its link needs
    # ptrace access to PID 1, which a sandboxed root may lack; the calling
    # process's own namespace is then the reference.
    try:
        return _namespace_inode("/proc/1/ns/net")
    except OSError:
        return _namespace_inode("/proc/self/ns/net")


def is_root_namespace(netns: Optional[str]) -> bool:
    """Tell whether `netns` (None: the calling process's namespace) is the root one.

    The root namespace is PID 1's, or the calling process's own when PID 1's
    cannot be read. A missing named namespace raises HostConflict.
    """
    path = "/proc/self/ns/net" if netns is None else netns_path(netns)
    try:
        inode = _namespace_inode(path)
    except FileNotFoundError:
        raise HostConflict(
            f"network namespace {netns!r} not found (no {path}); existing namespaces: "
            f"{_existing_namespaces()}. Check the name: bridgecfg never creates a namespace"
        ) from None
    return inode == _reference_inode()


def _existing_namespaces() -> str:
    directory = os.path.dirname(netns_path("x"))
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        names = []
    return ", ".join(names) or "none"


def open_netlink(netns: Optional[str] = None) -> NetlinkHandle:
    """Open an IPRoute in `netns`, or in the calling process's namespace for None.

    A named namespace must already exist: pyroute2 would otherwise create an
    empty one, so a typo would silently act on nothing.
    """
    from pyroute2 import IPRoute  # type: ignore[import-untyped]

    if netns is None:
        log.debug("opening netlink in the current network namespace")
        return IPRoute()
    path = netns_path(netns)
    if not os.path.exists(path):
        raise HostConflict(
            f"network namespace {netns!r} not found (no {path}); existing namespaces: "
            f"{_existing_namespaces()}. Check the name: bridgecfg never creates a namespace"
        )
    log.debug("opening netlink in network namespace %s", netns)
    try:
        return IPRoute(netns=netns, flags=0)
    except OSError as error:
        raise HostConflict(
            f"cannot enter network namespace {netns!r}: {error}"
        ) from error


def open_socket(netns: Optional[str], family: int, kind: int) -> socket.socket:
    """Open a socket in `netns`, or in the calling process's namespace for None.

    A socket stays in the namespace it was created in, so probes sent through it
    leave from that namespace whichever thread uses it. pyroute2 creates it in a
    short-lived child process that enters the namespace, which needs
    CAP_SYS_ADMIN; the socket itself needs no privilege.
    """
    if netns is None:
        return socket.socket(family, kind)
    from pyroute2.netns import create_socket  # type: ignore[import-untyped]

    if not os.path.exists(netns_path(netns)):
        raise HostConflict(f"network namespace {netns!r} not found")
    created: socket.socket = create_socket(netns, family, kind, flags=0)
    return created
