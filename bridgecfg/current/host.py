"""Gather everything the conversion reads from a host tree, for each requested bridge.

This module only reads. Deciding what the files mean and what to change happens in
`bridgecfg.derive`, on the plain data returned here.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import List, Optional, Tuple

from bridgecfg import model
from bridgecfg.current.hostfiles import (
    NETWORK_FILE, SCRIPTS_DIR, SYS_CLASS_NET, HostTree, Profile, SourceFile, companion_paths, find_profile,
    interface_mac, load_profiles, main_profile_names, read_profile,
)
from bridgecfg.current.keyfiles import keyfiles_defining
from bridgecfg.errors import HostConflict

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class PortCurrent:
    """The port's profile and companion files, as found on the host."""

    name: str
    profile: Profile
    mac: Optional[str]
    master: Optional[str]
    routes: Tuple[SourceFile, ...]
    aliases: Tuple[Profile, ...]
    keyfiles: Tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class BridgeCurrent:
    """The files of one requested bridge and its ports, as found on the host."""

    desired: model.Bridge
    ports: Tuple[PortCurrent, ...]
    existing: Optional[Profile]
    script_names: Tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class CurrentHost:
    """The files of a host that the requested topology touches."""

    root: Path
    bridges: Tuple[BridgeCurrent, ...]
    network: Optional[Profile]


def read_current(root: Path, topology: model.Topology) -> CurrentHost:
    """Read the profiles of every requested port and bridge under root."""
    tree = HostTree(root)
    mentions: List[str] = []
    for bridge in topology.bridges:
        mentions.append(bridge.name)
        for port in bridge.ports:
            mentions.append(port)
            mentions.append(interface_mac(tree, port) or "")
    profiles = load_profiles(tree, mentioning=tuple(mentions))
    script_names = tuple(tree.list_dir(SCRIPTS_DIR))
    bridges = tuple(
        BridgeCurrent(
            desired=bridge,
            ports=tuple(_read_port(tree, profiles, port) for port in bridge.ports),
            existing=find_profile(profiles, bridge.name, None),
            script_names=script_names,
        )
        for bridge in topology.bridges
    )
    return CurrentHost(root=root, bridges=bridges, network=read_profile(tree, NETWORK_FILE))


def _read_port(tree: HostTree, profiles: List[Profile], port: str) -> PortCurrent:
    mac = interface_mac(tree, port)
    profile = find_profile(profiles, port, mac)
    if profile is None:
        raise HostConflict(_missing_profile_message(tree, port, mac))
    hwaddr = (profile.parsed.get("HWADDR") or "").lower()
    companions = companion_paths(tree, profile.name, device=port)
    routes = tuple(source for source in (tree.read(path) for path in companions["routes"]) if source is not None)
    aliases = tuple(alias for alias in (read_profile(tree, path) for path in companions["aliases"])
                    if alias is not None)
    return PortCurrent(
        name=port,
        profile=profile,
        mac=mac,
        master=_master_of(tree, port),
        routes=routes,
        aliases=aliases,
        keyfiles=tuple(keyfiles_defining(tree, port, [mac or "", hwaddr])),
    )


def _master_of(tree: HostTree, port: str) -> Optional[str]:
    """Return the name of the device the port is enslaved to now, from sysfs, if any."""
    link = tree.local(f"{SYS_CLASS_NET}/{port}/master")
    try:
        return os.path.basename(os.readlink(link))
    except OSError:
        return None


def _missing_profile_message(tree: HostTree, port: str, mac: Optional[str]) -> str:
    looked = [f"a profile with DEVICE={port}"]
    if mac:
        looked.append(f"one with HWADDR={mac}")
    looked.append(f"{SCRIPTS_DIR}/ifcfg-{port} without a DEVICE line")
    known = ", ".join(main_profile_names(tree)) or "none"
    return (f"no ifcfg profile found for {port}: looked for {', '.join(looked)} (profiles present: {known}). "
            f"Check the interface name, or create {SCRIPTS_DIR}/ifcfg-{port} with DEVICE={port}")
