"""Property tests: the writer's quoting, the reader and whole plans on generated input.

Every quoted value must come back unchanged from real bash and from bridgecfg's reader.
The reader must end in a result or UnreadableFile on any input. A plan over a generated
host must end in a result or a clear refusal, and after one apply nothing is left to do.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridgecfg.current.shellvars import parse_bytes
from bridgecfg.errors import BridgecfgError, InternalError, InvalidInput, UnreadableFile
from bridgecfg.render.quoting import check_value, quote
from hostroot import (
    SCRIPTS, apply, bash_source, files_of, hygiene_problems, is_plain_assignment, plan, profile_files, sys_mac,
    write_tree,
)

PATH = "/etc/sysconfig/network-scripts/ifcfg-eth0"
CONTROL_CHARACTERS = [chr(code) for code in range(0x20)] + ["\x7f"]
# Characters a shell treats specially, so generated values and lines hit them often.
SHELL_SPECIALS = list(" '\"\\$`;&|<>()~#!{}*?[]=:,@%+/.-") + ["\u00e9", "\u00a0"]

PRINTABLE = st.characters(blacklist_categories=("Cs",), blacklist_characters=CONTROL_CHARACTERS)
VALUE = st.one_of(
    st.text(PRINTABLE, max_size=30),
    st.text(st.sampled_from(SHELL_SPECIALS + list("aZ09")), max_size=12),
    st.sampled_from(["", "$HOME", "`id`", "$(id)", "${x}", "a'b", 'a"b', "\\", "~", "~root", "a:~b", "-K eth0 tso off",
                     "System eth0", "$'x'", "#", "!x", "*"]),
)
CHECKS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- Writer -------------------------------------------------------------------------

@CHECKS
@given(st.lists(VALUE, min_size=1, max_size=8))
def test_quoted_values_round_trip(values: List[str]) -> None:
    text = "".join(f"KEY{index}={quote(value)}\n" for index, value in enumerate(values))
    expected = {f"KEY{index}": value for index, value in enumerate(values)}

    reading = bash_source(text)

    assert reading.problems() == []
    assert {key: reading.values.get(key) for key in expected} == expected
    assert parse_bytes(text.encode("utf-8"), path=PATH).values == expected


@CHECKS
@given(st.text(PRINTABLE, max_size=10), st.sampled_from(CONTROL_CHARACTERS), st.text(PRINTABLE, max_size=10))
def test_control_characters_rejected(prefix: str, control: str, suffix: str) -> None:
    value = prefix + control + suffix
    with pytest.raises(InternalError):
        quote(value)
    with pytest.raises(InvalidInput):
        check_value("KEY", value)


# --- Reader -------------------------------------------------------------------------

@CHECKS
@given(st.binary(max_size=300))
def test_reader_survives_bytes(data: bytes) -> None:
    try:
        parse_bytes(data, path=PATH)
    except UnreadableFile:
        pass


SHELLISH_TEXT = st.text(st.sampled_from(SHELL_SPECIALS + list("aZ09_\t\r")), max_size=16)
LINE = st.one_of(
    st.builds("{}={}".format, st.sampled_from(["A", "B", "KEY_1", "NAME"]), SHELLISH_TEXT),
    st.builds("export {}={}".format, st.sampled_from(["A", "B"]), SHELLISH_TEXT),
    SHELLISH_TEXT,
)


@CHECKS
@given(st.lists(LINE, max_size=6))
def test_reader_matches_bash(lines: List[str]) -> None:
    text = "\n".join(lines) + "\n"
    try:
        parsed = parse_bytes(text.encode("utf-8"), path=PATH)
    except UnreadableFile:
        return

    # The reader takes CR LF as a line end, as NetworkManager does; bash would keep the CR.
    reading = bash_source(text.replace("\r\n", "\n"))

    assert reading.stderr == ""
    assert reading.stray_output == ""
    for command in reading.commands:
        assert is_plain_assignment(command.removeprefix("export ")), command
    # bash sets $_ to the last argument of each command itself, so it never keeps an assignment.
    expected = {key: value for key, value in parsed.values.items() if key != "_"}
    assert {key: reading.values.get(key) for key in expected} == expected


# --- Whole plans ----------------------------------------------------------------------

def _spellings(value: str) -> st.SearchStrategy[str]:
    """Ways an admin might write a value: bare when that is safe, in single or in double quotes."""
    choices = [quote(value), "'" + value + "'"] if "'" not in value else [quote(value)]
    return st.sampled_from(choices)


PROFILE_KEYS: Dict[str, List[str]] = {
    "TYPE": ["Ethernet", "Ethernet", "Bond", "Vlan", "Bridge", "ethernet", "Team"],
    "ONBOOT": ["yes", "no", "", "on", "true"],
    "BOOTPROTO": ["none", "static", "dhcp", "", "DHCP", "bootp", "shared"],
    "IPADDR": ["192.0.2.10", "192.0.2.10/24", "192.0.2.10/25", "300.1.1.1", "fe80::1", ""],
    "PREFIX": ["24", "25", "33", "x", ""],
    "NETMASK": ["255.255.255.0", "255.0.255.0", "bogus"],
    "GATEWAY": ["192.0.2.1", "198.51.100.1"],
    "IPADDR0": ["192.0.2.20"],
    "PREFIX0": ["24"],
    "GATEWAY0": ["192.0.2.1"],
    "IPADDR1": ["192.0.2.21"],
    "IPADDR3": ["192.0.2.23"],
    "NETMASK3": ["255.255.255.0"],
    "DNS1": ["192.0.2.53", "2001:db8::53"],
    "DNS2": ["198.51.100.53"],
    "DOMAIN": ["example.com corp.example.com", "example.com"],
    "PEERDNS": ["no", "yes"],
    "NM_CONTROLLED": ["yes", "no", "off"],
    "HWADDR": ["52:54:00:12:34:56", "52:54:00:AB:CD:EF"],
    "MACADDR": ["52:54:00:12:34:99"],
    "UUID": ["5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03"],
    "NAME": ["System eth0", "eth0", "it's eth0"],
    "MTU": ["1500", "9000", "x"],
    "ETHTOOL_OPTS": ["-K eth0 tso off", "autoneg off speed 1000"],
    "IPV6INIT": ["yes", "no"],
    "IPV6_AUTOCONF": ["yes", "no"],
    "IPV6ADDR": ["2001:db8::10/64", "2001:db8::10", "not-an-address"],
    "IPV6ADDR_SECONDARIES": ["2001:db8::11/64 2001:db8::12/64"],
    "IPV6_DEFAULTGW": ["2001:db8::1", "2001:db8::1%eth0", "fe80::1%eth0"],
    "DHCPV6C": ["yes", "no"],
    "DHCP_HOSTNAME": ["host1"],
    "ZONE": ["public"],
    "USERCTL": ["no"],
    "DEFROUTE": ["yes", "no"],
    "VLAN": ["yes"],
    "BONDING_OPTS": ["mode=active-backup miimon=100"],
    "STP": ["yes"],
}
# Keys that make most profiles a refusal, drawn seldom so that most plans get to apply.
REFUSAL_KEYS: Dict[str, List[str]] = {
    "BRIDGE": ["br0", "br1"],
    "MASTER": ["bond0"],
    "SLAVE": ["yes"],
    "TEAM_MASTER": ["team0"],
    "ESSID": ["office"],
}
# No bridge profile yet, or an existing one without and with addresses.
EXISTING_BRIDGES = ["", "DEVICE=br0\nTYPE=Bridge\nONBOOT=yes\nSTP=no\nDELAY=0\n",
                    "DEVICE=br0\nTYPE=Bridge\nBOOTPROTO=none\nIPADDR=192.0.2.30\nPREFIX=24\nNM_CONTROLLED=no\n"]
ROUTE_LINES = ["10.0.0.0/8 via 192.0.2.254 dev eth0", "10.1.0.0/16 via 192.0.2.254 dev eth0x",
               "default via 192.0.2.1 dev eth0 metric 10", "# a comment", "", "\t172.16.0.0/12\tdev eth0",
               "\t# an indented comment", "10.2.0.0/16\tvia 192.0.2.254",
               "ADDRESS0=10.10.0.0", "GATEWAY0=192.0.2.254"]


@st.composite
def profile_text(draw: st.DrawFn, device: str) -> str:
    keys = draw(st.lists(st.sampled_from(sorted(PROFILE_KEYS)), unique=True, max_size=12))
    lines = [f"DEVICE={device}"] if draw(st.booleans()) or device != "eth0" else []
    for key in keys:
        value = draw(st.sampled_from(PROFILE_KEYS[key]))
        trailer = draw(st.sampled_from(["", "", "", " # note", "\t# note"]))
        lines.append(f"{key}={draw(_spellings(value))}{trailer}")
    if draw(st.sampled_from([False] * 9 + [True])):
        key = draw(st.sampled_from(sorted(REFUSAL_KEYS)))
        lines.append(f"{key}={draw(st.sampled_from(REFUSAL_KEYS[key]))}")
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["# written by hand", "\t# indented"])))
    return "\n".join(draw(st.permutations(lines))) + "\n"


@st.composite
def host_tree(draw: st.DrawFn) -> Tuple[Dict[str, str], List[str]]:
    files = {"ifcfg-eth0": draw(profile_text("eth0"))}
    ports = ["eth0"]
    if draw(st.booleans()):
        files["ifcfg-eth1"] = draw(profile_text("eth1"))
        ports.append("eth1")
    if draw(st.booleans()):
        files["route-eth0"] = "\n".join(draw(st.lists(st.sampled_from(ROUTE_LINES), min_size=1, max_size=4))) + "\n"
    if draw(st.booleans()):
        files["ifcfg-eth0:1"] = "DEVICE=eth0:1\nIPADDR=192.0.2.99\nPREFIX=24\n"
    files["ifcfg-br0"] = draw(st.sampled_from(EXISTING_BRIDGES))
    files = {name: text for name, text in files.items() if text}
    tree = profile_files(files)
    if draw(st.booleans()):
        tree.update(sys_mac("eth0", "52:54:00:00:00:10"))
    if draw(st.booleans()):
        tree["etc/sysconfig/network"] = "NETWORKING=yes\nGATEWAYDEV=eth0\nIPV6_DEFAULTGW=2001:db8::1%eth0\n"
    arguments = ["--bridge", "br0", "--port", *ports]
    arguments += draw(st.sampled_from([[], ["--stp"], ["--stp", "--forward-delay", "4"], ["--forward-delay", "0"]]))
    arguments += draw(st.sampled_from([[], ["--mtu", "9000"]]))
    arguments += draw(st.sampled_from([[], ["--mac", "inherit"], ["--mac", "52:54:00:00:00:01"]]))
    return tree, arguments


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(host_tree())
def test_generated_hosts_plan_cleanly(case: Tuple[Dict[str, str], List[str]]) -> None:
    tree, arguments = case
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        write_tree(root, tree)
        before = files_of(root)

        first = plan(root, arguments)

        assert first.status in (0, 1, 2), first.stderr
        if first.status == 1:
            assert first.stderr.startswith("bridgecfg: error: ")
            assert "internal error" not in first.stderr
            return
        assert apply(root, arguments).status == 0
        after = files_of(root)
        for relative, data in after.items():
            if before.get(relative) == data or not relative.startswith(SCRIPTS + "/ifcfg-"):
                continue
            assert hygiene_problems(data) == [], relative
        second = plan(root, arguments)
        assert second.status == 0, second.stdout


def test_plan_errors_are_bridgecfg_errors() -> None:
    assert issubclass(UnreadableFile, BridgecfgError)
    assert issubclass(InternalError, BridgecfgError)
