"""Read the files of a host tree: ifcfg profiles, their companions and /etc/sysconfig/network.

Paths are absolute host paths (`/etc/sysconfig/...`) resolved under a root directory, so
the same code reads the running host (root `/`) and a test tree.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import stat
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bridgecfg.current.shellvars import ShellFile, parse_bytes
from bridgecfg.errors import HostConflict, UnreadableFile

log = logging.getLogger(__name__)

SCRIPTS_DIR = "/etc/sysconfig/network-scripts"
NETWORK_FILE = "/etc/sysconfig/network"
SYS_CLASS_NET = "/sys/class/net"

# Suffixes that both the network scripts and NetworkManager's ifcfg-rh skip (compared
# case-sensitively by the scripts). A file with any other suffix is loaded by at least one.
IGNORED_BY_ALL = ("~", ".bak", ".orig", ".rpmnew")
COMPANION_PREFIXES = ("route-", "route6-", "rule-", "rule6-")


@dataclasses.dataclass(frozen=True)
class SourceFile:
    """The bytes and mode of one file as found on the host."""

    path: str
    data: bytes
    mode: int


@dataclasses.dataclass(frozen=True)
class Profile:
    """An ifcfg profile: its file, its parsed content and its name (the part after ifcfg-)."""

    source: SourceFile
    parsed: ShellFile

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def name(self) -> str:
        return os.path.basename(self.source.path)[len("ifcfg-"):]

    @property
    def device(self) -> Optional[str]:
        return self.parsed.get("DEVICE")


class HostTree:
    """A root directory under which host paths are read."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def local(self, host_path: str) -> Path:
        return self.root / host_path.lstrip("/")

    def exists(self, host_path: str) -> bool:
        return os.path.lexists(self.local(host_path))

    def read(self, host_path: str) -> Optional[SourceFile]:
        """Read a regular file, or return None when nothing is there."""
        local = self.local(host_path)
        try:
            info = os.lstat(local)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(info.st_mode):
            target = os.readlink(local)
            raise HostConflict(f"{host_path} is a symbolic link to {target}; bridgecfg does not read or write "
                               "through links. Replace it with a regular file")
        if not stat.S_ISREG(info.st_mode):
            raise HostConflict(f"{host_path} is not a regular file; move it away")
        return SourceFile(path=host_path, data=local.read_bytes(), mode=stat.S_IMODE(info.st_mode))

    def list_dir(self, host_dir: str) -> List[str]:
        local = self.local(host_dir)
        if not local.is_dir():
            return []
        return sorted(entry.name for entry in os.scandir(local))


def is_loaded_name(name: str) -> bool:
    """Tell whether at least one ifcfg reader loads a file of this name."""
    return not name.endswith(IGNORED_BY_ALL)


def read_profile(tree: HostTree, host_path: str) -> Optional[Profile]:
    source = tree.read(host_path)
    if source is None:
        return None
    return Profile(source=source, parsed=parse_bytes(source.data, path=host_path))


def interface_mac(tree: HostTree, interface: str) -> Optional[str]:
    """Return the MAC that sysfs reports for an interface under the root, lower-case, or None."""
    local = tree.local(f"{SYS_CLASS_NET}/{interface}/address")
    try:
        text = local.read_text(encoding="ascii").strip().lower()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def main_profile_names(tree: HostTree) -> List[str]:
    """List the ifcfg files that describe a device: loaded, and neither an alias nor a range file."""
    names = []
    for name in tree.list_dir(SCRIPTS_DIR):
        if not name.startswith("ifcfg-") or not is_loaded_name(name):
            continue
        if ":" in name or "-range" in name:
            continue
        names.append(name)
    return names


def load_profiles(tree: HostTree, *, mentioning: Tuple[str, ...]) -> List[Profile]:
    """Parse every main profile. A file that cannot be read safely is skipped with a warning,
    unless its text mentions one of the given words (an interface name or MAC), because it
    may then describe that interface."""
    profiles = []
    for name in main_profile_names(tree):
        host_path = f"{SCRIPTS_DIR}/{name}"
        try:
            profile = read_profile(tree, host_path)
        except UnreadableFile as error:
            if _mentions(tree.local(host_path), mentioning, name):
                raise
            log.warning("skipping %s, which names none of %s: %s", host_path, ", ".join(mentioning), error)
            continue
        if profile is not None:
            profiles.append(profile)
    return profiles


def _mentions(local: Path, words: Tuple[str, ...], name: str) -> bool:
    try:
        text = local.read_bytes().decode("utf-8", errors="replace").lower()
    except OSError:
        return True
    for word in words:
        if not word:
            continue
        pattern = r"(?<![A-Za-z0-9_.:-])" + re.escape(word.lower()) + r"(?![A-Za-z0-9_.:-])"
        if re.search(pattern, text) or name == f"ifcfg-{word}":
            return True
    return False


def find_profile(profiles: List[Profile], interface: str, mac: Optional[str]) -> Optional[Profile]:
    """Find the profile of an interface the way the network scripts do.

    First the profile whose DEVICE is the interface, else one without DEVICE whose HWADDR
    is the interface's MAC (compared case-insensitively, as the scripts upper-case both),
    else ifcfg-<interface> if it has no DEVICE line. Several matches at one step raise.
    """
    by_device = [profile for profile in profiles if profile.device == interface]
    if by_device:
        return _single(by_device, interface, "DEVICE")
    if mac:
        by_mac = [profile for profile in profiles if profile.device is None
                  and (profile.parsed.get("HWADDR") or "").lower() == mac.lower()]
        if by_mac:
            return _single(by_mac, interface, f"HWADDR {mac}")
    for profile in profiles:
        if profile.name == interface and profile.device is None:
            return profile
    return None


def _single(matches: List[Profile], interface: str, how: str) -> Profile:
    if len(matches) == 1:
        return matches[0]
    paths = ", ".join(profile.path for profile in matches)
    raise HostConflict(f"several profiles describe {interface} by {how}: {paths}. Both the network scripts and "
                       "NetworkManager would load each of them; remove or rename the stale ones (a backup "
                       "must end in .bak) and run bridgecfg again")


def companion_paths(tree: HostTree, profile_name: str, device: Optional[str] = None) -> Dict[str, List[str]]:
    """List the route, rule and alias files that belong to a profile, by kind.

    NetworkManager finds them by the profile's name. The network scripts look them up by
    the device name too (ifup-routes reads route-<device> and route-<profile>, and
    ifup-aliases reads ifcfg-<device>:*), so both names count when they differ.
    """
    stems = [profile_name] if device is None or device == profile_name else [profile_name, device]
    found: Dict[str, List[str]] = {"routes": [], "aliases": []}
    for name in tree.list_dir(SCRIPTS_DIR):
        if not is_loaded_name(name):
            continue
        if any(name == prefix + stem for prefix in COMPANION_PREFIXES for stem in stems):
            found["routes"].append(f"{SCRIPTS_DIR}/{name}")
        elif any(name.startswith((f"ifcfg-{stem}:", f"ifcfg-{stem}-range")) for stem in stems):
            found["aliases"].append(f"{SCRIPTS_DIR}/{name}")
    return found
