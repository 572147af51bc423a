"""The single quoting step between a value and an ifcfg file.

Every value a template prints passes through `finalize`, installed as jinja2's finalize
hook, so no template can write a value unquoted by accident. The output is read the same
way by bash, NetworkManager's ifcfg-rh parser, the network scripts' grep lookups and
udev's rename_device.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Optional

import jinja2

from bridgecfg.errors import InternalError, InvalidInput

# Characters that bash, NetworkManager and rename_device all read literally when bare.
_BARE_SAFE = re.compile(r"[A-Za-z0-9_.:/@+,%=-]+")
# Spellings kept as the file had them: bare, or quoted without any escape or expansion.
_PLAIN_DOUBLE = re.compile(r'"[^"\\$`]*"')
_PLAIN_SINGLE = re.compile(r"'[^'\\]*'")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Comments and `ip` route lines may keep tabs: nothing reads a comment, and the network
# scripts pass route lines through bash, which splits words at tabs as at spaces.
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class Verbatim(str):
    """Text printed as it is: a comment line or a trailing comment taken from a file."""

    def __new__(cls, text: str) -> "Verbatim":
        if _CONTROL_BUT_TAB.search(text):
            raise InternalError(f"verbatim text {text!r} contains a control character")
        stripped = text.lstrip(" \t")
        if stripped and not stripped.startswith("#"):
            raise InternalError(f"verbatim text {text!r} is neither blank nor a comment")
        return super().__new__(cls, text)


class RouteText(str):
    """A line in `ip route` or `ip rule` syntax, printed unquoted as ip reads it."""

    def __new__(cls, text: str) -> "RouteText":
        if _CONTROL_BUT_TAB.search(text):
            raise InternalError(f"route line {text!r} contains a control character")
        return super().__new__(cls, text)


@dataclasses.dataclass(frozen=True)
class ShellValue:
    """A value to write, with the spelling it had in the source file if it is unchanged."""

    key: str
    value: str
    raw: Optional[str] = None


def check_value(key: str, value: str) -> None:
    """Raise InvalidInput for a value that no quoting can write safely."""
    if _CONTROL.search(value):
        raise InvalidInput(f"{key}: the value {value!r} contains a control character, which an ifcfg file "
                           "cannot hold; remove it")


def quote(value: str) -> str:
    """Quote a value for an ifcfg file: bare when safe, else in double quotes with escapes."""
    if _CONTROL.search(value):
        raise InternalError(f"value {value!r} reached the writer with a control character")
    if _BARE_SAFE.fullmatch(value):
        return value
    escaped = re.sub(r'([\\"$`])', r"\\\1", value)
    return f'"{escaped}"'


def spell(item: ShellValue) -> str:
    """Return the spelling of a value: the original one if it is plain and unchanged."""
    raw = item.raw
    if raw is not None:
        if _BARE_SAFE.fullmatch(raw) and raw == item.value:
            return raw
        if (_PLAIN_DOUBLE.fullmatch(raw) or _PLAIN_SINGLE.fullmatch(raw)) and raw[1:-1] == item.value:
            return raw
    return quote(item.value)


def finalize_shell(item: object) -> str:
    """jinja2 finalize hook for ifcfg templates."""
    if isinstance(item, jinja2.Undefined):
        return str(item)  # StrictUndefined raises UndefinedError, naming the missing variable.
    if isinstance(item, Verbatim):
        return str(item)
    if isinstance(item, ShellValue):
        return spell(item)
    if isinstance(item, bool):
        return "yes" if item else "no"
    if isinstance(item, (str, int)):
        return quote(str(item))
    raise InternalError(f"template printed a {type(item).__name__}, which has no ifcfg spelling")


def finalize_route(item: object) -> str:
    """jinja2 finalize hook for route and rule files in `ip` syntax."""
    if isinstance(item, jinja2.Undefined):
        return str(item)  # StrictUndefined raises UndefinedError, naming the missing variable.
    if isinstance(item, (RouteText, Verbatim)):
        return str(item)
    raise InternalError(f"route template printed a {type(item).__name__}; wrap lines in RouteText")
