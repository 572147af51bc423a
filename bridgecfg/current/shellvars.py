"""Read ifcfg-style shell assignment files without executing them.

The network scripts load an ifcfg file with bash's `source`, and NetworkManager's ifcfg-rh
plugin reads it with its own parser for a subset of bash. This reader returns the values
that bash would assign, for the subset of bash on which both agree. Anything only a shell
could evaluate (expansions, command substitution, operators, continuations) raises
UnreadableFile naming the file, line and key, because its value cannot be known without
running it, and the two readers would disagree about it anyway.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Dict, List, Optional, Sequence, Tuple

from bridgecfg.errors import UnreadableFile

log = logging.getLogger(__name__)

KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"^(?P<indent>[ \t]*)(?P<export>export[ \t]+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<rest>.*)$")
_OPERATORS = set(";&|<>()")
# Characters below 0x20 (other than tab) and DEL never belong in a profile value.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclasses.dataclass(frozen=True)
class Line:
    """One line of an ifcfg file: an assignment, a comment or a blank line.

    `raw_value` is the value as spelled in the file (quotes included) and `trailer` any
    white space and comment after it, so a writer can keep both.
    """

    number: int
    text: str
    key: Optional[str] = None
    value: Optional[str] = None
    raw_value: Optional[str] = None
    trailer: str = ""

    @property
    def is_assignment(self) -> bool:
        return self.key is not None


@dataclasses.dataclass(frozen=True)
class ShellFile:
    """The parsed content of one ifcfg-style file, in file order."""

    path: str
    lines: Tuple[Line, ...]

    @property
    def values(self) -> Dict[str, str]:
        """Map each key to its effective value: the last assignment wins, as in bash."""
        result: Dict[str, str] = {}
        for line in self.lines:
            if line.key is not None and line.value is not None:
                result[line.key] = line.value
        return result

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        return self.values.get(key, default)

    def line_of(self, key: str) -> int:
        """Return the number of the line that sets key last, or 0 when no line does."""
        number = 0
        for line in self.lines:
            if line.key == key:
                number = line.number
        return number

    def keys_in_order(self) -> List[str]:
        """List the keys in the order of their first assignment."""
        seen: List[str] = []
        for line in self.lines:
            if line.key is not None and line.key not in seen:
                seen.append(line.key)
        return seen


def parse_bytes(data: bytes, *, path: str) -> ShellFile:
    """Parse the bytes of an ifcfg file. Raise UnreadableFile for anything only bash could read."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_number = data[: error.start].count(b"\n") + 1
        raise UnreadableFile(path, line_number, "", "the bytes are not valid UTF-8; "
                             "NetworkManager ignores such values, so rewrite the line in ASCII") from error
    return parse_text(text, path=path)


def parse_text(text: str, *, path: str) -> ShellFile:
    """Parse ifcfg text. CRLF line ends and a missing final newline are accepted."""
    lines: List[Line] = []
    for number, physical in enumerate(_split_lines(text), start=1):
        lines.append(_parse_line(physical, number=number, path=path))
    return ShellFile(path=path, lines=tuple(lines))


def _split_lines(text: str) -> List[str]:
    # Only LF ends a line for bash; a CR before it is the CRLF convention, which
    # NetworkManager drops as trailing white space. A lone CR elsewhere stays in the line
    # and is refused later as a control character.
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return [part[:-1] if part.endswith("\r") else part for part in parts]


def _parse_line(text: str, *, number: int, path: str) -> Line:
    stripped = text.strip(" \t")
    if not stripped or stripped.startswith("#"):
        if _CONTROL.search(text):
            raise UnreadableFile(path, number, "", "the line contains a control character; remove it")
        return Line(number=number, text=text)

    match = _ASSIGNMENT.match(text)
    if match is None:
        raise UnreadableFile(path, number, "", f"{stripped!r} is not a KEY=value assignment, so bash would run "
                             "it as a command; turn it into an assignment or a comment")
    key = match.group("key")
    rest = match.group("rest")
    value, consumed = _read_word(rest, path=path, number=number, key=key)
    trailer = rest[consumed:]
    _check_trailer(trailer, path=path, number=number, key=key)
    return Line(number=number, text=text, key=key, value=value, raw_value=rest[:consumed], trailer=trailer)


def _read_word(rest: str, *, path: str, number: int, key: str) -> Tuple[str, int]:
    """Read the value word of an assignment as bash would, returning it and its length."""
    chars: List[str] = []
    index = 0
    while index < len(rest):
        char = rest[index]
        if char in " \t":
            break
        if char == "'":
            end = rest.find("'", index + 1)
            if end < 0:
                raise UnreadableFile(path, number, key, "the single quote is not closed on this line; "
                                     "a value must fit on one line")
            chars.append(rest[index + 1:end])
            index = end + 1
            continue
        if char == '"':
            text, index = _read_double_quoted(rest, index + 1, path=path, number=number, key=key)
            chars.append(text)
            continue
        if char == "\\":
            if index + 1 >= len(rest):
                raise UnreadableFile(path, number, key, "a backslash at the end of the line continues it; "
                                     "put the whole value on one line")
            chars.append(rest[index + 1])
            index += 2
            continue
        _check_unquoted(rest, index, path=path, number=number, key=key)
        chars.append(char)
        index += 1
    value = "".join(chars)
    if _CONTROL.search(value):
        raise UnreadableFile(path, number, key, "the value contains a control character; remove it")
    return value, index


def _read_double_quoted(rest: str, index: int, *, path: str, number: int, key: str) -> Tuple[str, int]:
    chars: List[str] = []
    while index < len(rest):
        char = rest[index]
        if char == '"':
            return "".join(chars), index + 1
        if char == "\\":
            if index + 1 >= len(rest):
                break
            following = rest[index + 1]
            if following in '$`"\\':
                chars.append(following)
            else:
                # bash keeps the backslash before any other character inside double quotes.
                chars.append("\\" + following)
            index += 2
            continue
        if char == "`":
            raise UnreadableFile(path, number, key, "a backtick inside double quotes runs a command in bash; "
                                 "escape it as \\` or remove it")
        if char == "$":
            raise UnreadableFile(path, number, key, "a $ inside double quotes is expanded by bash but read "
                                 "literally by NetworkManager; escape it as \\$ or use single quotes")
        chars.append(char)
        index += 1
    raise UnreadableFile(path, number, key, "the double quote is not closed on this line; "
                         "a value must fit on one line")


def _check_unquoted(rest: str, index: int, *, path: str, number: int, key: str) -> None:
    char = rest[index]
    if char == "$":
        if rest.startswith("$'", index):
            raise UnreadableFile(path, number, key, "$'...' quoting is evaluated by bash only; "
                                 "use double quotes with backslash escapes instead")
        if rest.startswith("$(", index):
            raise UnreadableFile(path, number, key, "$( ) runs a command in bash; write the literal value")
        raise UnreadableFile(path, number, key, "an unquoted $ is expanded by bash but read literally by "
                             "NetworkManager; write the literal value, or quote it as '$'")
    if char == "`":
        raise UnreadableFile(path, number, key, "a backtick runs a command in bash; write the literal value")
    if char in _OPERATORS:
        raise UnreadableFile(path, number, key, f"an unquoted {char!r} is shell syntax; "
                             "put the whole value in double quotes")
    if char == "~" and (index == 0 or rest[index - 1] == ":"):
        raise UnreadableFile(path, number, key, "an unquoted ~ here is expanded by bash to a home directory; "
                             "put the value in double quotes")


def _check_trailer(trailer: str, *, path: str, number: int, key: str) -> None:
    remainder = trailer.lstrip(" \t")
    if not remainder or remainder.startswith("#"):
        if _CONTROL.search(trailer):
            raise UnreadableFile(path, number, key, "the comment contains a control character; remove it")
        return
    raise UnreadableFile(path, number, key, f"unquoted white space is followed by {remainder!r}, "
                         "which bash runs as a command; put the whole value in double quotes")


def effective(files: Sequence[ShellFile]) -> Dict[str, str]:
    """Merge the values of files sourced one after another, later files winning."""
    merged: Dict[str, str] = {}
    for shell_file in files:
        merged.update(shell_file.values)
    return merged
