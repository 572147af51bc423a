"""Build the desired topology from a configuration file or from the short command-line form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pydantic

from bridgecfg import model
from bridgecfg.errors import InvalidInput

# Model field names as the short command-line form spells them.
OPTION_NAMES = {"name": "--bridge", "ports": "--port", "mac": "--mac", "stp": "--stp", "mtu": "--mtu",
                "forward_delay": "--forward-delay"}


def load_config(path: Path) -> model.Topology:
    """Read a YAML or JSON file that holds a topology (a mapping with a `bridges` list)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"cannot read --config {path}: {error}") from None
    data = _parse(path, text)
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: the top level must be a mapping with a 'bridges' list")
    try:
        return model.Topology.model_validate(data)
    except pydantic.ValidationError as error:
        raise InvalidInput(f"{path}: " + describe_validation_error(error)) from None


def _parse(path: Path, text: str) -> Any:
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidInput(f"{path}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    import yaml  # Imported here: only configuration files need it.

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise InvalidInput(f"{path}: invalid YAML{where}: {getattr(error, 'problem', error)}") from None


def topology_from_options(*, bridge: str, ports: Sequence[str], mac: Optional[str], stp: Optional[bool],
                          mtu: Optional[int], forward_delay: Optional[int]) -> model.Topology:
    """Build a one-bridge topology from the short form, setting only the options given."""
    fields: Dict[str, Any] = {"name": bridge, "ports": list(ports)}
    for name, value in (("mac", mac), ("stp", stp), ("mtu", mtu), ("forward_delay", forward_delay)):
        if value is not None:
            fields[name] = value
    try:
        return model.Topology(bridges=[model.Bridge.model_validate(fields)])
    except pydantic.ValidationError as error:
        raise InvalidInput(describe_validation_error(error, option_names=OPTION_NAMES)) from None


# pydantic reports a value that fits no member of a union once per member, under a location
# part naming the member; these are collapsed into one message for the field.
_UNION_MEMBERS = ("literal[", "StaticAddresses")
_ADDRESS_MODE = ("must be 'inherit', 'dhcp', or a mapping with 'addresses' (a list of ADDRESS/PREFIX) and an "
                 "optional 'gateway'")


def describe_validation_error(error: pydantic.ValidationError, *, option_names: Optional[Dict[str, str]] = None) -> str:
    """Turn pydantic's errors into one line per field, naming the field and the bad value."""
    parts: List[str] = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        members = [index for index, part in enumerate(location) if part.startswith(_UNION_MEMBERS)]
        if members and location[members[0] - 1] in ("ipv4", "ipv6") and members[0] == len(location) - 1:
            line = f"{'.'.join(location[:members[0]])}: {_ADDRESS_MODE} (got {item.get('input')!r})"
            if line not in parts:
                parts.append(line)
            continue
        if item["type"] == "extra_forbidden":
            known = ", ".join(sorted(_known_keys(location)))
            parts.append(f"{'.'.join(location)}: unknown key; the keys here are {known}")
            continue
        if option_names and location and location[0] in option_names:
            field = option_names[location[0]]
        else:
            field = ".".join(location)
        message = str(item["msg"]).removeprefix("Value error, ")
        value = item.get("input")
        shown = "" if isinstance(value, (dict, list)) or value is None else f" (got {value!r})"
        if str(value) in message:
            shown = ""
        # A check across fields has no location; its message names the fields itself.
        parts.append(f"{field}: {message}{shown}" if field else f"{message}{shown}")
    return "; ".join(parts)


def _known_keys(location: List[str]) -> List[str]:
    """List the keys that the model at a location accepts, for an unknown-key message."""
    depth = len([part for part in location[:-1] if not part.isdigit()])
    if depth == 0:
        return list(model.Topology.model_fields)
    parent = location[-2] if not location[-2].isdigit() else location[-3]
    if parent == "bridges":
        return list(model.Bridge.model_fields)
    if parent == "dns":
        return list(model.Dns.model_fields)
    if parent in ("ipv4", "ipv6"):
        return list(model.StaticAddresses.model_fields)
    return list(model.Bridge.model_fields)
