"""Run one bridge-conversion case and judge the result by its `check:` rules and invariants.

A case folder contains `case.yaml` and `before/`, the input files byte for byte. The rules
and invariants are described in tests/cases/README.md. Each rule function returns the list
of problems it found, so a test can show all of them at once.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set

import netaddr
import yaml

from bridgecfg.current.shellvars import parse_bytes
from hostroot import (
    SCRIPTS, STATE_DIR, CliResult, TreeEntry, apply, backups_of, case_values, hygiene_problems, is_loadable_backup,
    is_loaded_profile_name, matching_keys, plan, shell_values, snapshot, tree_differences, write_tree,
)

CASES_DIR = Path(__file__).resolve().parent / "cases"

# Layer-3 keys that must leave the port, and keys the port keeps unchanged.
PORT_LAYER3_KEYS = (
    "IPADDR*", "PREFIX*", "NETMASK*", "BROADCAST*", "NETWORK", "GATEWAY*", "METRIC", "DEFROUTE", "ARPCHECK*",
    "SRCADDR", "DNS*", "DOMAIN", "PEERDNS", "PEERROUTES", "DHCP_HOSTNAME", "DHCP_FQDN", "PERSISTENT_DHCLIENT",
    "IPV6ADDR*", "IPV6_DEFAULTGW", "IPV6_AUTOCONF",
)
PORT_IDENTITY_KEYS = (
    "DEVICE", "HWADDR", "MACADDR", "UUID", "NAME", "TYPE", "VLAN*", "PHYSDEV", "BONDING_*", "MTU", "ETHTOOL_OPTS",
    "ONBOOT", "NM_CONTROLLED",
)
BRIDGE_FORBIDDEN_KEYS = (
    "UUID", "HWADDR", "MACADDR", "BRIDGE", "MASTER", "SLAVE", "TEAM_MASTER", "VLAN", "PHYSDEV", "VLAN_ID",
    "BONDING_*",
)
_ADDRESS_KEYS = ("IPADDR*", "PREFIX*", "NETMASK*")
_DERIVABLE_KEYS = ("BROADCAST*", "NETWORK")
_TRUE_WORDS = {"yes", "y", "true", "t", "1", "on"}


@dataclasses.dataclass
class Case:
    """One case folder: its settings and the bytes of its input files by file name."""

    folder: Path
    spec: Dict[str, Any]
    before: Dict[str, bytes]

    @property
    def id(self) -> str:
        return str(self.spec["id"])

    @property
    def nic(self) -> str:
        return str(self.spec["nic"])

    @property
    def bridge(self) -> str:
        return str(self.spec["bridge"])

    @property
    def check(self) -> Dict[str, Any]:
        return dict(self.spec.get("check") or {})

    def relative(self, name: str) -> str:
        """Return the place of a case file under the root, without the leading slash."""
        return str(self.spec["paths"][name]).lstrip("/")

    def arguments(self) -> List[str]:
        return ["--bridge", self.bridge, "--port", self.nic]


def load_cases() -> List[Case]:
    cases = []
    for folder in sorted(path for path in CASES_DIR.iterdir() if (path / "case.yaml").is_file()):
        spec = yaml.safe_load((folder / "case.yaml").read_text(encoding="utf-8"))
        before = {path.name: path.read_bytes() for path in sorted((folder / "before").iterdir())}
        cases.append(Case(folder=folder, spec=spec, before=before))
    return cases


@dataclasses.dataclass
class CaseRun:
    """The outcome of plan, apply, plan, apply on a fresh root."""

    case: Case
    root: Path
    initial: Dict[str, TreeEntry]
    first_plan: CliResult
    after_first_plan: Dict[str, TreeEntry]
    first_apply: CliResult
    after_first_apply: Dict[str, TreeEntry]
    second_plan: CliResult
    after_second_plan: Dict[str, TreeEntry]
    second_apply: CliResult
    after_second_apply: Dict[str, TreeEntry]

    def data(self, name: str) -> Optional[bytes]:
        """Return the bytes of a case file after the first apply, or None if it is gone."""
        entry = self.after_first_apply.get(self.case.relative(name))
        if entry is None or entry.kind != "file":
            return None
        assert isinstance(entry.content, bytes)
        return entry.content

    def values(self, name: str) -> Optional[Dict[str, str]]:
        data = self.data(name)
        return None if data is None else shell_values(data)

    def before_values(self, name: str) -> Dict[str, str]:
        return case_values(self.case.before[name])

    def changed_names(self) -> List[str]:
        """List the case files whose bytes differ after the first apply, created ones included."""
        return [name for name in self.case.spec["paths"]
                if self.case.before.get(name) != self.data(name) and self.data(name) is not None]


def run_case(case: Case, root: Path) -> CaseRun:
    write_tree(root, {case.relative(name): data for name, data in case.before.items()})
    arguments = case.arguments()
    initial = snapshot(root)
    first_plan = plan(root, arguments)
    after_first_plan = snapshot(root)
    first_apply = apply(root, arguments)
    after_first_apply = snapshot(root)
    second_plan = plan(root, arguments)
    after_second_plan = snapshot(root)
    second_apply = apply(root, arguments)
    after_second_apply = snapshot(root)
    return CaseRun(case, root, initial, first_plan, after_first_plan, first_apply, after_first_apply,
                   second_plan, after_second_plan, second_apply, after_second_apply)


# --- Value helpers -------------------------------------------------------------------

def as_text(value: Any) -> str:
    """Return a YAML scalar as text. Booleans and numbers must be quoted in case.yaml, so they fail here."""
    assert isinstance(value, str), f"case value {value!r} is not a string; quote it in case.yaml"
    return value


def accepted(value: Any) -> List[str]:
    return [as_text(item) for item in value] if isinstance(value, list) else [as_text(value)]


def is_true(value: Optional[str], *, default: bool) -> bool:
    return default if not value else value.lower() in _TRUE_WORDS


def address_set(values: Mapping[str, str]) -> List[str]:
    """Apply the network scripts' scan to IPADDRn: IPADDR, IPADDR0, IPADDR1, then 2, 3, ... to the first gap.

    Each address gets its prefix from a CIDR suffix, else PREFIXn, else NETMASKn.
    """
    indexes = [index for index in ("", "0", "1") if values.get(f"IPADDR{index}")]
    number = 2
    while values.get(f"IPADDR{number}"):
        indexes.append(str(number))
        number += 1
    result = []
    for index in indexes:
        address, _, suffix = values[f"IPADDR{index}"].partition("/")
        prefix = suffix or values.get(f"PREFIX{index}") or ""
        if not prefix and values.get(f"NETMASK{index}"):
            prefix = str(netaddr.IPAddress(values[f"NETMASK{index}"]).netmask_bits())
        result.append(f"{address}/{prefix}" if prefix else address)
    return result


def gateways(values: Mapping[str, str]) -> List[str]:
    return sorted({value for key, value in values.items() if re.fullmatch(r"GATEWAY\d*", key) and value})


def bootproto_meaning(value: Optional[str]) -> str:
    return "dhcp" if value in ("dhcp", "bootp") else "static"


# --- check: rules ----------------------------------------------------------------------

def rule_mandatory(run: CaseRun, spec: Mapping[str, Mapping[str, Any]]) -> List[str]:
    problems = []
    for name, wanted in spec.items():
        values = run.values(name)
        if values is None:
            problems.append(f"{name} is missing")
            continue
        for key_spec, value in wanted.items():
            alternatives = key_spec.split("|")
            allowed = accepted(value)
            present = {key: values[key] for key in alternatives if key in values}
            if not present:
                problems.append(f"{name}: {key_spec} is missing")
            elif not any(found in allowed for found in present.values()):
                problems.append(f"{name}: {key_spec} is {present}, expected one of {allowed}")
    return problems


def rule_absent(run: CaseRun, spec: Mapping[str, Sequence[str]]) -> List[str]:
    problems = []
    for name, patterns in spec.items():
        values = run.values(name) or {}
        found = matching_keys(values, patterns)
        if found:
            problems.append(f"{name} still has {', '.join(found)}")
    return problems


def rule_optional_if_present(run: CaseRun, spec: Mapping[str, Mapping[str, Any]]) -> List[str]:
    problems = []
    for name, wanted in spec.items():
        values = run.values(name) or {}
        for key, value in wanted.items():
            if key in values and values[key] not in accepted(value):
                problems.append(f"{name}: {key}={values[key]!r}, expected absent or one of {accepted(value)}")
    return problems


def rule_unchanged(run: CaseRun, names: Sequence[str]) -> List[str]:
    problems = []
    for name in names:
        relative = run.case.relative(name)
        if run.after_first_apply.get(relative) != run.initial.get(relative):
            problems.append(f"{name} was rewritten or touched")
    return problems


def rule_removed(run: CaseRun, names: Sequence[str]) -> List[str]:
    problems = []
    for name in names:
        if run.data(name) is not None:
            problems.append(f"{name} is still a loadable profile")
        if not backups_of(run.root, run.case.relative(name), run.case.before[name]):
            problems.append(f"{name} was removed without a backup")
    return problems


def rule_must_not_exist(run: CaseRun, names: Sequence[str]) -> List[str]:
    return [f"{name} was created" for name in names if run.data(name) is not None]


def rule_exactly_one_profile_for(run: CaseRun, devices: Any) -> List[str]:
    problems = []
    for device in accepted(devices):
        profiles = []
        for relative, entry in run.after_first_apply.items():
            directory, _, name = relative.rpartition("/")
            if entry.kind != "file" or directory != SCRIPTS or not name.startswith("ifcfg-"):
                continue
            if not is_loaded_profile_name(name) or ":" in name:
                continue
            assert isinstance(entry.content, bytes)
            values = case_values(entry.content)
            if values.get("DEVICE") == device or ("DEVICE" not in values and name == f"ifcfg-{device}"):
                profiles.append(name)
        if len(profiles) != 1:
            problems.append(f"{device} is described by {len(profiles)} loadable profiles: {profiles}")
    return problems


def rule_no_cr_bytes(run: CaseRun, names: Sequence[str]) -> List[str]:
    return [f"{name} contains a CR byte" for name in names if b"\r" in (run.data(name) or b"")]


def rule_hygiene(run: CaseRun, names: Any) -> List[str]:
    selected = run.changed_names() if names is True else list(names)
    problems = []
    for name in selected:
        data = run.data(name)
        if data is not None:
            problems.extend(f"{name}: {problem}" for problem in hygiene_problems(data))
    return problems


def rule_address_set(run: CaseRun, spec: Mapping[str, Sequence[str]]) -> List[str]:
    problems = []
    for name, wanted in spec.items():
        found = address_set(run.values(name) or {})
        if found != list(wanted):
            problems.append(f"{name}: addresses {found}, expected {list(wanted)}")
    return problems


def rule_exact_text(run: CaseRun, spec: Mapping[str, str]) -> List[str]:
    problems = []
    for name, text in spec.items():
        data = run.data(name)
        if data is None or data.decode("utf-8").rstrip("\n") != text:
            problems.append(f"{name} is {data!r}, expected exactly {text!r}")
    return problems


def rule_backups(run: CaseRun, _: Any) -> List[str]:
    return invariant_backups(run)


def rule_directory(run: CaseRun, _: Any) -> List[str]:
    """After the run, every loadable ifcfg file in network-scripts is one the case names."""
    allowed = {Path(path).name for path in run.case.spec["paths"].values()}
    problems = []
    for relative, entry in run.after_first_apply.items():
        directory, _, name = relative.rpartition("/")
        if entry.kind == "file" and directory == SCRIPTS and name.startswith("ifcfg-"):
            if is_loaded_profile_name(name) and name not in allowed:
                problems.append(f"{relative} is a loadable profile the case does not name")
    return problems


_COMBINATION = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\S+) together with ([A-Za-z_][A-Za-z0-9_]*)=(\S+)")


def rule_forbidden_combination(run: CaseRun, spec: Mapping[str, str]) -> List[str]:
    problems = []
    for name, text in spec.items():
        match = _COMBINATION.match(text)
        assert match, f"cannot read the forbidden combination {text!r}; extend the checker"
        first_key, first_value, second_key, second_value = match.groups()
        values = run.values(name) or {}
        if values.get(first_key) == first_value and values.get(second_key) == second_value:
            problems.append(f"{name} has {first_key}={first_value} together with {second_key}={second_value}")
    return problems


def rule_ignored(run: CaseRun, _: Any) -> List[str]:
    return []


FILE_RULES: Dict[str, Callable[[CaseRun, Any], List[str]]] = {
    "mandatory": rule_mandatory,
    "absent": rule_absent,
    "optional_if_present": rule_optional_if_present,
    "unchanged": rule_unchanged,
    "removed": rule_removed,
    "must_not_exist": rule_must_not_exist,
    "exactly_one_profile_for": rule_exactly_one_profile_for,
    "no_cr_bytes": rule_no_cr_bytes,
    "each_key_once": rule_hygiene,
    "ends_with_newline": rule_hygiene,
    "shell_safe": rule_hygiene,
    "address_set": rule_address_set,
    "exact_text": rule_exact_text,
    "backup_byte_identical": rule_backups,
    "backup_location_rule": rule_backups,
    "directory_rule": rule_directory,
    "forbidden_combination": rule_forbidden_combination,
    # A recommended message, explanations and ignored aspects: nothing to enforce.
    "warning": rule_ignored,
    "notes": rule_ignored,
    "free": rule_ignored,
}
ERROR_RULES = {"unchanged", "no_new_files", "exit_status", "error_must_mention", "notes", "free", "warning"}


# --- Invariants of a files case --------------------------------------------------------

def port_name(case: Case) -> str:
    return f"ifcfg-{case.nic}"


def bridge_name(case: Case) -> str:
    return f"ifcfg-{case.bridge}"


def invariant_bridge_identity(run: CaseRun) -> List[str]:
    """I1: DEVICE and TYPE=Bridge spelled exactly, ONBOOT taken from the port."""
    bridge = run.values(bridge_name(run.case))
    if bridge is None:
        return ["the bridge file is missing"]
    problems = []
    if bridge.get("DEVICE") != run.case.bridge:
        problems.append(f"DEVICE is {bridge.get('DEVICE')!r}")
    if bridge.get("TYPE") != "Bridge":
        problems.append(f"TYPE is {bridge.get('TYPE')!r}, not exactly 'Bridge'")
    port_onboot = is_true(run.before_values(port_name(run.case)).get("ONBOOT"), default=True)
    if is_true(bridge.get("ONBOOT"), default=True) != port_onboot:
        problems.append(f"ONBOOT is {bridge.get('ONBOOT')!r}, the port's reads {port_onboot}")
    return problems


def invariant_bridge_clean(run: CaseRun) -> List[str]:
    """I2: no identity, port or bond keys on the bridge, and a NAME of its own."""
    bridge = run.values(bridge_name(run.case)) or {}
    problems = [f"the bridge file has {key}" for key in matching_keys(bridge, BRIDGE_FORBIDDEN_KEYS)]
    port = run.values(port_name(run.case)) or {}
    if "NAME" in bridge and bridge["NAME"] == port.get("NAME"):
        problems.append(f"the bridge file copies the port's NAME {bridge['NAME']!r}")
    return problems


def invariant_port(run: CaseRun) -> List[str]:
    """I3: the port joins the bridge, loses its layer-3 keys and keeps its identity."""
    case = run.case
    before = run.before_values(port_name(case))
    port = run.values(port_name(case))
    bridge = run.values(bridge_name(case)) or {}
    if port is None:
        return ["the port file is missing"]
    problems = []
    if port.get("BRIDGE") != case.bridge:
        problems.append(f"port BRIDGE is {port.get('BRIDGE')!r}")
    if port.get("BOOTPROTO") != "none":
        problems.append(f"port BOOTPROTO is {port.get('BOOTPROTO')!r}")
    problems.extend(f"port still has {key}" for key in matching_keys(port, PORT_LAYER3_KEYS))
    for key in matching_keys(set(before) | set(port), PORT_IDENTITY_KEYS):
        if before.get(key) != port.get(key):
            problems.append(f"port {key} changed from {before.get(key)!r} to {port.get(key)!r}")
    problems.extend(_moved_meaning(case, before, port, bridge))
    return problems


def _moved_meaning(case: Case, before: Mapping[str, str], port: Mapping[str, str],
                   bridge: Mapping[str, str]) -> List[str]:
    """Check that each key the port lost is on the bridge with the same meaning."""
    problems = []
    removed = [key for key in before if key not in port]
    if matching_keys(removed, _ADDRESS_KEYS) and address_set(before) != address_set(bridge):
        problems.append(f"addresses {address_set(before)} became {address_set(bridge)} on the bridge")
    if matching_keys(removed, ["GATEWAY*"]) and not set(gateways(before)) <= set(gateways(bridge)):
        problems.append(f"gateways {gateways(before)} became {gateways(bridge)} on the bridge")
    if bootproto_meaning(before.get("BOOTPROTO")) != bootproto_meaning(bridge.get("BOOTPROTO")):
        problems.append(f"BOOTPROTO {before.get('BOOTPROTO')!r} became {bridge.get('BOOTPROTO')!r} on the bridge")
    for key in removed:
        if matching_keys([key], _ADDRESS_KEYS + ("GATEWAY*",)):
            continue
        expected = before[key]
        if key == "IPV6_DEFAULTGW" and expected.endswith(f"%{case.nic}"):
            expected = expected[: -len(case.nic)] + case.bridge
        if matching_keys([key], _DERIVABLE_KEYS) and key not in bridge:
            continue
        if bridge.get(key) != expected:
            problems.append(f"{key}={before[key]!r} left the port but the bridge has {bridge.get(key)!r}")
    return problems


def invariant_output_hygiene(run: CaseRun) -> List[str]:
    """I4: written files have each key once, LF only, a final newline, and source safely."""
    problems = rule_hygiene(run, True)
    for name in run.changed_names():
        data = run.data(name)
        assert data is not None
        ours = parse_bytes(data, path=name).values
        if ours != shell_values(data):
            problems.append(f"{name}: bridgecfg reads {ours}, bash reads {shell_values(data)}")
    return problems


def invariant_backups(run: CaseRun) -> List[str]:
    """I5: each changed or removed file is backed up byte for byte, mode kept, where no reader loads it."""
    problems = []
    for name, data in run.case.before.items():
        relative = run.case.relative(name)
        if run.after_first_apply.get(relative) == run.initial.get(relative):
            continue
        copies = backups_of(run.root, relative, data)
        if not copies:
            problems.append(f"{name} changed without a byte-identical backup")
            continue
        mode = run.initial[relative].mode
        if not any(copy_mode == mode for _, copy_mode in copies):
            problems.append(f"the backup of {name} does not keep mode {oct(mode)}: {copies}")
        loadable = [path for path, _ in copies if is_loadable_backup(path)]
        if loadable:
            problems.append(f"the backup of {name} is loadable as a profile: {loadable}")
    return problems


def invariant_nm_controlled(run: CaseRun) -> List[str]:
    """I6: the bridge's NM_CONTROLLED equals the port's, both absent when the port had none."""
    before = run.before_values(port_name(run.case)).get("NM_CONTROLLED")
    bridge = (run.values(bridge_name(run.case)) or {}).get("NM_CONTROLLED")
    return [] if before == bridge else [f"bridge NM_CONTROLLED {bridge!r}, port had {before!r}"]


def invariant_others_untouched(run: CaseRun) -> List[str]:
    """I7: input files other than the port are untouched, and nothing unnamed is created."""
    case = run.case
    problems = []
    listed_removed = set(case.check.get("removed") or [])
    for name in case.before:
        if name in (port_name(case), bridge_name(case)) or name in listed_removed:
            continue
        relative = case.relative(name)
        if run.after_first_apply.get(relative) != run.initial.get(relative):
            problems.append(f"{name} was touched")
    named = {case.relative(name) for name in case.spec["paths"]}
    for difference in tree_differences(run.initial, run.after_first_apply):
        kind, _, relative = difference.partition(" ")
        if kind == "added" and not _expected_new_path(relative, named):
            problems.append(f"{relative} was created though the case does not name it")
    return problems


def _expected_new_path(relative: str, named: Set[str]) -> bool:
    """Tell whether a new path is a named file, a directory above one, or bridgecfg's state."""
    if relative in named or any(path.startswith(relative + "/") for path in named):
        return True
    return relative == STATE_DIR or relative.startswith(STATE_DIR + "/") or STATE_DIR.startswith(relative + "/")


def invariant_kept_values(run: CaseRun) -> List[str]:
    """I8: every value that stays on the port keeps its exact text (no blanket eth0 to br0)."""
    case = run.case
    before = run.before_values(port_name(case))
    port = run.values(port_name(case)) or {}
    problems = []
    for key, value in before.items():
        if key in ("BOOTPROTO", "BRIDGE") or key not in port:
            continue
        if port[key] != value:
            problems.append(f"port {key} changed from {value!r} to {port[key]!r}")
    return problems


INVARIANTS: Dict[str, Callable[[CaseRun], List[str]]] = {
    "I1": invariant_bridge_identity,
    "I2": invariant_bridge_clean,
    "I3": invariant_port,
    "I4": invariant_output_hygiene,
    "I5": invariant_backups,
    "I6": invariant_nm_controlled,
    "I7": invariant_others_untouched,
    "I8": invariant_kept_values,
}
