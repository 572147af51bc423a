"""Move a port's route, rule and alias files to the bridge.

The network scripts apply route-, route6-, rule- and alias files from ifup-post, which
never runs for a bridge port, so these files only work under the bridge's name.
"""

from __future__ import annotations

import os
import re
from typing import List, Set, Tuple

from bridgecfg.current.host import BridgeCurrent, PortCurrent
from bridgecfg.current.hostfiles import SCRIPTS_DIR, SourceFile
from bridgecfg.current.shellvars import parse_bytes
from bridgecfg.derive.desired import DesiredFile
from bridgecfg.derive.lines import EditableFile
from bridgecfg.errors import HostConflict, UnreadableFile
from bridgecfg.render.quoting import RouteText, Verbatim

# Route files in the older key=value form (ADDRESS0=..., GATEWAY0=...) are sourced by
# bash like an ifcfg file; every other route or rule file holds `ip route` or `ip rule`
# arguments, one command per line.
_KEY_VALUE_ROUTE = re.compile(r"^\s*(ADDRESS|NETMASK|GATEWAY|METRIC|OPTIONS)\d+=", re.MULTILINE)
# Words after which `ip route` and `ip rule` expect an interface name.
_ROUTE_DEVICE_WORDS = {"dev", "oif"}
_RULE_DEVICE_WORDS = {"dev", "iif", "oif", "iifname", "oifname"}


def move_companions(current: BridgeCurrent, profile_name: str, claimed: Set[str]) -> List[DesiredFile]:
    """Return the removals of every port's companion files and their rewritten copies for the bridge."""
    desired: List[DesiredFile] = []
    existing_names = set(current.script_names)
    for port in current.ports:
        for source in port.routes:
            target = _target_path(source.path, (port.profile.name, port.name), profile_name)
            _claim(target, source.path, existing_names, claimed)
            desired.append(_moved_route_file(source, target, port.name, current.desired.name))
            desired.append(DesiredFile.removal(source))
        for alias in port.aliases:
            target = _target_path(alias.path, (port.profile.name, port.name), profile_name)
            _claim(target, alias.path, existing_names, claimed)
            editable = EditableFile.from_shell_file(alias.parsed)
            _rewrite_alias_device(editable, port, current.desired.name)
            desired.append(DesiredFile.edited(target, "ifcfg-lines.j2", editable, None))
            desired.append(DesiredFile.removal(alias.source))
    return desired


def _target_path(path: str, port_names: Tuple[str, str], bridge_profile: str) -> str:
    """Return where a companion file moves: the same kind of file, named after the bridge profile.

    port_names are the port's profile name and device name, either of which may name it.
    """
    # NOTE: when an existing bridge profile is named after something other than its
    # device (ifcfg-mybridge with DEVICE=br0), alias files move to ifcfg-mybridge:N, which
    # NetworkManager reads but the network scripts' ifup-aliases (which looks for
    # ifcfg-br0:N) does not. Legacy <name>.route files are not moved at all.
    name = os.path.basename(path)
    for prefix in ("route6-", "route-", "rule6-", "rule-", "ifcfg-"):
        for port_name in port_names:
            stem = prefix + port_name
            rest = name[len(stem):]
            if name.startswith(stem) and (rest == "" or rest.startswith((":", "-range"))):
                return f"{SCRIPTS_DIR}/{prefix}{bridge_profile}{rest}"
    raise AssertionError(f"{path} is not a companion of {' or '.join(port_names)}")


def _claim(target: str, source: str, existing_names: Set[str], claimed: Set[str]) -> None:
    if os.path.basename(target) in existing_names:
        raise HostConflict(f"{source} would move to {target}, but {target} already exists; merge the two files "
                           "by hand or remove the stale one, then run bridgecfg again")
    if target in claimed:
        raise HostConflict(f"{source} would move to {target}, where another companion file moves too; merge "
                           "the two files into one by hand first")
    claimed.add(target)


def _moved_route_file(source: SourceFile, target: str, port: str, bridge: str) -> DesiredFile:
    text = _decode(source)
    if _KEY_VALUE_ROUTE.search(text):
        parsed = parse_bytes(source.data, path=source.path)
        return DesiredFile.edited(target, "ifcfg-lines.j2", EditableFile.from_shell_file(parsed), None)
    words = _RULE_DEVICE_WORDS if os.path.basename(source.path).startswith("rule") else _ROUTE_DEVICE_WORDS
    lines = [_rewrite_ip_line(line, port, bridge, words) for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return DesiredFile.route_lines(target, lines, None)


def _decode(source: SourceFile) -> str:
    try:
        text = source.data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = source.data[: error.start].count(b"\n") + 1
        raise UnreadableFile(source.path, line, "", "the bytes are not valid UTF-8; rewrite the line in ASCII") from None
    return text.replace("\r\n", "\n")


def _rewrite_ip_line(line: str, port: str, bridge: str, device_words: Set[str]) -> RouteText:
    """Replace the interface name after dev (and its synonyms) when it is the port; keep the rest."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return RouteText(Verbatim(line))
    words = stripped.split()
    changed = False
    for index in range(1, len(words)):
        if words[index - 1] in device_words and words[index] == port:
            words[index] = bridge
            changed = True
    return RouteText(" ".join(words) if changed else line)


def _rewrite_alias_device(editable: EditableFile, port: PortCurrent, bridge: str) -> None:
    device = editable.get("DEVICE")
    if device is None:
        return
    if device == port.name:
        editable.set("DEVICE", bridge)
    elif device.startswith(f"{port.name}:"):
        editable.set("DEVICE", bridge + device[len(port.name):])

