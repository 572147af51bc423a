"""An editable copy of an ifcfg file's lines that keeps comments and order.

The port file, an existing bridge file, alias files and /etc/sysconfig/network are edited
rather than regenerated, so that a diff shows only what changed. Repeated keys collapse to
their effective value at the place of the last assignment, which is the one bash uses.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import Callable, Dict, Iterable, List, Optional

from bridgecfg.current.shellvars import ShellFile
from bridgecfg.render.quoting import ShellValue, Verbatim, check_value


@dataclasses.dataclass
class Entry:
    """One output line: an assignment (key and value) or a verbatim comment or blank line."""

    key: Optional[str] = None
    value: Optional[ShellValue] = None
    text: Optional[Verbatim] = None
    trailer: Verbatim = Verbatim("")


class EditableFile:
    """The lines of an ifcfg-style file, edited key by key."""

    def __init__(self, entries: List[Entry]) -> None:
        self.entries = entries

    @classmethod
    def from_shell_file(cls, parsed: ShellFile) -> "EditableFile":
        last_line: Dict[str, int] = {}
        for line in parsed.lines:
            if line.key is not None:
                last_line[line.key] = line.number
        entries = []
        for line in parsed.lines:
            if line.key is None:
                entries.append(Entry(text=Verbatim(line.text)))
            elif last_line[line.key] == line.number:
                value = ShellValue(key=line.key, value=line.value or "", raw=line.raw_value)
                trailer = Verbatim(line.trailer) if line.trailer.strip() else Verbatim("")
                entries.append(Entry(key=line.key, value=value, trailer=trailer))
        return cls(entries)

    @classmethod
    def empty(cls) -> "EditableFile":
        return cls([])

    def get(self, key: str) -> Optional[str]:
        for entry in self.entries:
            if entry.key == key and entry.value is not None:
                return entry.value.value
        return None

    def keys(self) -> List[str]:
        return [entry.key for entry in self.entries if entry.key is not None]

    def values(self) -> Dict[str, str]:
        return {entry.key: entry.value.value for entry in self.entries
                if entry.key is not None and entry.value is not None}

    def set(self, key: str, value: str) -> None:
        """Set a key in place, or append it when the file does not have it yet."""
        check_value(key, value)
        for entry in self.entries:
            if entry.key == key and entry.value is not None:
                if entry.value.value != value:
                    entry.value = ShellValue(key=key, value=value)
                return
        self.entries.append(Entry(key=key, value=ShellValue(key=key, value=value)))

    def set_after(self, anchor: str, key: str, value: str) -> None:
        """Set a key, placing it right after the anchor key when it is new."""
        if self.get(key) is not None:
            self.set(key, value)
            return
        check_value(key, value)
        entry = Entry(key=key, value=ShellValue(key=key, value=value))
        positions = [index for index, existing in enumerate(self.entries) if existing.key == anchor]
        if positions:
            self.entries.insert(positions[-1] + 1, entry)
        else:
            self.entries.append(entry)

    def remove(self, keep: Callable[[str], bool]) -> List[Entry]:
        """Remove the assignments whose key fails `keep`, returning them in file order."""
        removed = [entry for entry in self.entries if entry.key is not None and not keep(entry.key)]
        self.entries = [entry for entry in self.entries if entry.key is None or keep(entry.key)]
        return removed

    def remove_keys(self, patterns: Iterable[str]) -> List[Entry]:
        pattern_list = list(patterns)
        return self.remove(lambda key: not matches_any(key, pattern_list))

    def append_entries(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            if entry.key is None or entry.value is None:
                continue
            self.set(entry.key, entry.value.value)
            if entry.value.raw is not None:
                self._restore_spelling(entry)

    def _restore_spelling(self, moved: Entry) -> None:
        for entry in self.entries:
            if entry.key == moved.key and entry.value is not None and moved.value is not None:
                if entry.value.value == moved.value.value:
                    entry.value = moved.value
                    entry.trailer = moved.trailer


def matches_any(key: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)
