"""Interpret ifcfg values that the network scripts and NetworkManager read differently.

The conversion has to decide what some values mean (is this port on DHCP, is it managed by
NetworkManager). Where the two readers disagree about a value, guessing would change the
host's behaviour under one of them, so these helpers raise and name both readings.
"""

from __future__ import annotations

from typing import Optional, Set

from bridgecfg.current.shellvars import ShellFile
from bridgecfg.errors import UnreadableFile

# initscripts' is_true/is_false accept these, case-insensitively.
_SCRIPTS_TRUE = {"t", "y", "yes", "on", "true", "1"}
_SCRIPTS_FALSE = {"f", "n", "no", "off", "false", "0"}
# NetworkManager's svParseBoolean has no on/off.
_NM_TRUE = {"yes", "true", "t", "y", "1"}
_NM_FALSE = {"no", "false", "f", "n", "0"}


def read_bool(profile: ShellFile, key: str, *, default: bool) -> bool:
    """Return a boolean key's value, raising when the two readers would disagree about it."""
    raw = profile.get(key)
    if raw is None or raw == "":
        return default
    word = raw.lower()
    scripts = _parse_bool(word, _SCRIPTS_TRUE, _SCRIPTS_FALSE)
    manager = _parse_bool(word, _NM_TRUE, _NM_FALSE)
    if scripts is not None and scripts == manager:
        return scripts
    scripts_reading = _describe(scripts, default)
    manager_reading = _describe(manager, default)
    if scripts_reading == manager_reading:
        return default
    raise UnreadableFile(profile.path, profile.line_of(key), key,
                         f"{key}={raw} is read as {scripts_reading} by the network scripts and as "
                         f"{manager_reading} by NetworkManager; write {key}=yes or {key}=no")


def _parse_bool(word: str, true_words: Set[str], false_words: Set[str]) -> Optional[bool]:
    if word in true_words:
        return True
    if word in false_words:
        return False
    return None


def _describe(parsed: Optional[bool], default: bool) -> str:
    if parsed is None:
        return f"unset (default {'yes' if default else 'no'})"
    return "yes" if parsed else "no"


BOOTPROTO_DHCP = "dhcp"
BOOTPROTO_STATIC = "none"


def read_bootproto(profile: ShellFile) -> str:
    """Return "dhcp" or "none" (static), raising for values whose reading differs.

    The network scripts start a DHCP client only for the exact lower-case words dhcp and
    bootp and treat everything else as static. NetworkManager compares case-insensitively,
    accepts autoip, shared and ibft, and rejects the whole file for other words.
    """
    raw = profile.get("BOOTPROTO")
    if raw is None or raw in ("", "none", "static"):
        return BOOTPROTO_STATIC
    if raw in ("dhcp", "bootp"):
        return BOOTPROTO_DHCP
    word = raw.lower()
    if word in ("none", "static"):
        return BOOTPROTO_STATIC
    if word in ("dhcp", "bootp"):
        manager = "DHCP"
    elif word == "autoip":
        manager = "IPv4 link-local (autoip)"
    elif word in ("shared", "ibft"):
        manager = f"the {word} method"
    else:
        manager = "an invalid value, so it ignores the whole profile"
    raise UnreadableFile(profile.path, profile.line_of("BOOTPROTO"), "BOOTPROTO",
                         f"BOOTPROTO={raw} is read as static by the network scripts and as {manager} by "
                         "NetworkManager; write BOOTPROTO=dhcp or BOOTPROTO=none")


def read_type(profile: ShellFile, *, canonical: str) -> bool:
    """Tell whether TYPE names the canonical type, raising for a spelling only NetworkManager accepts.

    The network scripts compare TYPE case-sensitively (TYPE=bridge creates no bridge under
    them), while NetworkManager ignores case.
    """
    raw = profile.get("TYPE")
    if raw is None:
        return False
    if raw == canonical:
        return True
    if raw.lower() == canonical.lower():
        raise UnreadableFile(profile.path, profile.line_of("TYPE"), "TYPE",
                             f"TYPE={raw} is {canonical} for NetworkManager but not for the network scripts, "
                             f"which compare case-sensitively; write TYPE={canonical}")
    return False
