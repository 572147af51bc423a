"""The desired files: what each touched file should contain after the conversion."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Union

from bridgecfg.current.hostfiles import SourceFile
from bridgecfg.derive.lines import EditableFile
from bridgecfg.render.quoting import RouteText


@dataclasses.dataclass
class DesiredFile:
    """One file to create, rewrite or remove.

    `intended` holds what the project's own reader must read back from the rendered
    bytes: the effective values of an ifcfg file, or the lines of an `ip` syntax file.
    """

    path: str
    template: str
    context: Dict[str, Any]
    intended: Union[Dict[str, str], List[str]]
    current: Optional[SourceFile]
    remove: bool = False

    @classmethod
    def edited(cls, path: str, template: str, editable: EditableFile, current: Optional[SourceFile]) -> "DesiredFile":
        return cls(path=path, template=template, context={"entries": editable.entries},
                   intended=editable.values(), current=current)

    @classmethod
    def route_lines(cls, path: str, lines: List[RouteText], current: Optional[SourceFile]) -> "DesiredFile":
        commands = [str(line).strip() for line in lines if str(line).strip() and not str(line).lstrip().startswith("#")]
        return cls(path=path, template="route.j2", context={"lines": lines}, intended=commands, current=current)

    @classmethod
    def removal(cls, current: SourceFile) -> "DesiredFile":
        return cls(path=current.path, template="", context={}, intended={}, current=current, remove=True)


@dataclasses.dataclass
class Desired:
    """Every desired file of a host and the notes the conversion made on the way."""

    files: List[DesiredFile]
    notes: List[str]
    # For each bridge, the port whose IP configuration moves to it (None if no port has any).
    carriers: Dict[str, Optional[str]] = dataclasses.field(default_factory=dict)
    # For each port that carries IP configuration, the addresses its profile configures.
    file_addresses: Dict[str, List[str]] = dataclasses.field(default_factory=dict)
    # The ports whose profile has them on DHCP.
    dhcp_ports: List[str] = dataclasses.field(default_factory=list)
    # For each bridge, whether NetworkManager manages it (NM_CONTROLLED of its ports).
    nm_controlled: Dict[str, bool] = dataclasses.field(default_factory=dict)
