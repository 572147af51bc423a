"""The plan: the ordered file changes between the current and the desired host files.

A plan is computed without writing anything, and `apply` writes exactly what the plan
shows.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from bridgecfg import model
from bridgecfg.current.host import CurrentHost, read_current
from bridgecfg.derive import derive
from bridgecfg.derive.desired import Desired
from bridgecfg.render.renderer import Renderer

CREATE, MODIFY, REMOVE = "create", "modify", "remove"


@dataclasses.dataclass(frozen=True)
class FileChange:
    """One file to create, modify or remove, with its bytes before and after."""

    path: str
    action: str
    old: Optional[bytes]
    new: Optional[bytes]
    old_mode: Optional[int]

    def diff(self) -> str:
        old_lines = _lines(self.old)
        new_lines = _lines(self.new)
        before = f"a{self.path}" if self.old is not None else "/dev/null"
        after = f"b{self.path}" if self.new is not None else "/dev/null"
        return "".join(difflib.unified_diff(old_lines, new_lines, fromfile=before, tofile=after))


def _lines(data: Optional[bytes]) -> List[str]:
    if data is None:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines(keepends=True)
    return [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines]


@dataclasses.dataclass(frozen=True)
class Plan:
    """The file changes for a topology on a host, and the notes made while deriving them."""

    root: Path
    topology: model.Topology
    changes: List[FileChange]
    notes: List[str]
    desired: Desired

    @property
    def empty(self) -> bool:
        return not self.changes

    def diff(self) -> str:
        return "".join(change.diff() for change in self.changes)

    def summary(self) -> List[str]:
        if self.empty:
            return ["Nothing to do: the files already describe the requested bridges."]
        counts = {action: sum(1 for change in self.changes if change.action == action)
                  for action in (CREATE, MODIFY, REMOVE)}
        lines = [f"{counts[CREATE]} to create, {counts[MODIFY]} to modify, {counts[REMOVE]} to remove "
                 "(each modified or removed file is backed up first):"]
        lines.extend(f"  {change.action:<6} {change.path}" for change in self.changes)
        return lines

    def to_json(self) -> Dict[str, Any]:
        return {
            "root": str(self.root),
            "changed": not self.empty,
            "topology": self.topology.model_dump(mode="json"),
            "files": [
                {
                    "path": change.path,
                    "action": change.action,
                    "diff": change.diff(),
                    "content": change.new.decode("utf-8") if change.new is not None else None,
                }
                for change in self.changes
            ],
            "notes": list(self.notes),
        }

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False)


def make_plan(root: Path, topology: model.Topology, *, templates: Optional[Path] = None) -> Plan:
    """Read the host files under root and compute the changes the topology needs."""
    current = read_current(root, topology)
    return plan_from_current(current, topology, renderer=Renderer(templates))


def plan_from_current(current: CurrentHost, topology: model.Topology, *, renderer: Renderer) -> Plan:
    desired = derive(current)
    changes: List[FileChange] = []
    for item in desired.files:
        old = item.current.data if item.current is not None else None
        old_mode = item.current.mode if item.current is not None else None
        if item.remove:
            changes.append(FileChange(item.path, REMOVE, old, None, old_mode))
            continue
        new = renderer.render(item)
        if old == new:
            continue
        changes.append(FileChange(item.path, CREATE if old is None else MODIFY, old, new, old_mode))
    return Plan(root=current.root, topology=topology, changes=_ordered(changes), notes=desired.notes,
                desired=desired)


def _ordered(changes: List[FileChange]) -> List[FileChange]:
    """Order the changes as they are written: new files first, then edits, then removals.

    A crash part-way then leaves the old profiles in place beside complete new ones,
    never a port that points at a bridge file not yet written.
    """
    rank = {CREATE: 0, MODIFY: 1, REMOVE: 2}
    return sorted(changes, key=lambda change: rank[change.action])
