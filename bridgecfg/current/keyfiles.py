"""Find NetworkManager keyfiles that also define an interface.

NetworkManager may prefer a keyfile over the ifcfg profile, so a keyfile for the port
would keep putting the old addresses on it after the conversion. Only enough of the
keyfile format is read to tell which interface a profile binds to.
"""

from __future__ import annotations

import logging
import re
from typing import Dict, List, Optional, Set

from bridgecfg.current.hostfiles import HostTree

log = logging.getLogger(__name__)

# NetworkManager loads keyfiles from /etc, from /run and from /usr/lib, where images
# ship read-only profiles.
KEYFILE_DIRS = ("/etc/NetworkManager/system-connections", "/run/NetworkManager/system-connections",
                "/usr/lib/NetworkManager/system-connections")
# Files NetworkManager skips: hidden ones, editor backups, mkstemp-style temporary names
# (a dot and exactly six letters or digits at the end) and certificates.
_TEMPORARY_SUFFIX = re.compile(r"\.[A-Za-z0-9]{6}$")
_ETHERNET_SECTIONS = ("ethernet", "802-3-ethernet", "wifi", "802-11-wireless", "infiniband")


def is_skipped_name(directory: str, name: str) -> bool:
    """Tell whether NetworkManager ignores a file of this name in this keyfile directory."""
    if name.startswith(".") or name.endswith("~") or name.endswith((".pem", ".der")):
        return True
    if _TEMPORARY_SUFFIX.search(name) and not name.endswith(".nmconnection"):
        return True
    # Outside /etc, NetworkManager loads only files with the .nmconnection extension.
    return not directory.startswith("/etc/") and not name.endswith(".nmconnection")


def parse_keyfile(text: str) -> Dict[str, Dict[str, str]]:
    """Read a GLib key file into sections of keys, without interpreting any value."""
    sections: Dict[str, Dict[str, str]] = {}
    current: Optional[Dict[str, str]] = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip(), {})
            continue
        if current is not None and "=" in line:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return sections


def keyfile_mac(value: str) -> Optional[str]:
    """Normalise a keyfile MAC, written as 52:54:00:... or as the old list of decimal bytes."""
    value = value.strip().rstrip(";")
    if ";" in value:
        try:
            octets = [int(part) for part in value.split(";")]
        except ValueError:
            return None
        if len(octets) != 6 or any(not 0 <= octet <= 255 for octet in octets):
            return None
        return ":".join(f"{octet:02x}" for octet in octets)
    return value.replace("-", ":").lower() or None


def keyfiles_defining(tree: HostTree, interface: str, macs: List[str]) -> List[str]:
    """List the keyfiles that bind a profile to the interface by name or by MAC."""
    wanted_macs = {mac.lower() for mac in macs if mac}
    found = []
    for directory in KEYFILE_DIRS:
        for name in tree.list_dir(directory):
            if is_skipped_name(directory, name):
                continue
            host_path = f"{directory}/{name}"
            local = tree.local(host_path)
            if not local.is_file():
                continue
            try:
                sections = parse_keyfile(local.read_bytes().decode("utf-8", errors="replace"))
            except OSError as error:
                log.warning("cannot read keyfile %s: %s", host_path, error)
                continue
            if _binds(sections, interface, wanted_macs):
                found.append(host_path)
    return found


def _binds(sections: Dict[str, Dict[str, str]], interface: str, macs: Set[str]) -> bool:
    if sections.get("connection", {}).get("interface-name") == interface:
        return True
    for section in _ETHERNET_SECTIONS:
        value = sections.get(section, {}).get("mac-address")
        if value and keyfile_mac(value) in macs:
            return True
    return False
