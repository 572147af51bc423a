"""Every kind of refusal: exit status 1, a message that names the item and the fix, and no change.

Each refusal is tried with both plan and apply on its own root. Nothing under the root may
be created, changed or removed, and bridgecfg's state directory must not appear.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import pytest

from hostroot import SCRIPTS, apply, plan, profile_files, snapshot, state_dir_exists, sys_mac, tree_differences, write_tree

KEYFILES = "etc/NetworkManager/system-connections"
STATIC_ETH0 = "DEVICE=eth0\nTYPE=Ethernet\nONBOOT=yes\nBOOTPROTO=none\nIPADDR=192.0.2.10\nPREFIX=24\n"
PLAIN_ETH1 = "DEVICE=eth1\nTYPE=Ethernet\nONBOOT=yes\nBOOTPROTO=none\n"
BRIDGE_WITH_ADDRESS = "DEVICE=br0\nTYPE=Bridge\nONBOOT=yes\nBOOTPROTO=none\nIPADDR=192.0.2.20\nPREFIX=24\n"


@dataclasses.dataclass(frozen=True)
class Refusal:
    """A host tree and arguments that bridgecfg must refuse, with the words its message needs."""

    name: str
    files: Dict[str, str]
    arguments: Sequence[str]
    mentions: Sequence[str]
    fix: str
    links: Dict[str, str] = dataclasses.field(default_factory=dict)


def _eth0(extra: str) -> Dict[str, str]:
    return profile_files({"ifcfg-eth0": "DEVICE=eth0\nTYPE=Ethernet\nONBOOT=yes\n" + extra})


def _keyfile(name: str, body: str) -> Dict[str, str]:
    return {f"{KEYFILES}/{name}": "[connection]\nid=cloud-init eth0\ntype=ethernet\n" + body}


BR0_ETH0 = ["--bridge", "br0", "--port", "eth0"]
BR0_TWO_PORTS = ["--bridge", "br0", "--port", "eth0", "eth1"]

REFUSALS: List[Refusal] = [
    Refusal("bond slave", _eth0("MASTER=bond0\nSLAVE=yes\n"), BR0_ETH0, ["eth0", "bond0", "ifcfg-eth0"],
            "--port bond0"),
    Refusal("bond slave without MASTER", _eth0("SLAVE=yes\n"), BR0_ETH0, ["eth0", "SLAVE", "ifcfg-eth0"],
            "remove SLAVE"),
    Refusal("team port", _eth0("TEAM_MASTER=team0\nDEVICETYPE=TeamPort\n"), BR0_ETH0, ["eth0", "team0"],
            "team device team0 instead"),
    Refusal("team port by type", _eth0("DEVICETYPE=TeamPort\n"), BR0_ETH0, ["eth0", "TeamPort"],
            "bridge its team device instead"),
    Refusal("port of another bridge", _eth0("BRIDGE=br1\n"), BR0_ETH0, ["eth0", "br1", "ifcfg-eth0"],
            "remove it from br1"),
    Refusal("wifi", _eth0("TYPE=Wireless\nESSID=office\nMODE=Managed\n"), BR0_ETH0, ["eth0", "Wi-Fi", "ifcfg-eth0"],
            "Bridge a wired interface"),
    Refusal("wifi by keys only", profile_files({"ifcfg-eth0": "DEVICE=eth0\nESSID=office\nWPA_PSK=secret1234\n"}),
            BR0_ETH0, ["eth0", "Wi-Fi"], "Bridge a wired interface"),
    Refusal("sit tunnel", profile_files({"ifcfg-sit1": "DEVICE=sit1\nIPV6INIT=yes\nIPV6TUNNELIPV4=192.0.2.6\n"}),
            ["--bridge", "br0", "--port", "sit1"], ["sit1", "IPV6TUNNELIPV4"], "Bridge an Ethernet interface"),
    Refusal("infiniband", _eth0("TYPE=InfiniBand\nCONNECTED_MODE=yes\n"), BR0_ETH0, ["eth0", "InfiniBand"],
            "Bridge an Ethernet interface"),
    Refusal("bridge name 16 bytes", _eth0(""), ["--bridge", "br-enp129s0f1np1", "--port", "eth0"],
            ["br-enp129s0f1np1", "15"], "Choose a shorter name"),
    Refusal("bridge name 16 UTF-8 bytes", _eth0(""), ["--bridge", "br" + "\u00e9" * 7, "--port", "eth0"],
            ["br" + "\u00e9" * 7, "15"], "Choose a shorter name"),
    Refusal("bridge name slash", _eth0(""), ["--bridge", "br/0", "--port", "eth0"], ["br/0", "'/'"], "Choose"),
    Refusal("bridge name colon", _eth0(""), ["--bridge", "br0:1", "--port", "eth0"], ["br0:1", "':'"], "Choose"),
    Refusal("bridge name space", _eth0(""), ["--bridge", "br 0", "--port", "eth0"], ["br 0", "' '"], "Choose"),
    Refusal("bridge name all", _eth0(""), ["--bridge", "all", "--port", "eth0"], ["'all'", "reserved"], "Choose"),
    Refusal("bridge name dot", _eth0(""), ["--bridge", ".", "--port", "eth0"], ["'.'", "reserved"], "Choose"),
    Refusal("bridge name is port", _eth0(""), ["--bridge", "eth0", "--port", "eth0"], ["eth0"],
            "choose another bridge name"),
    Refusal("bridge name is ethernet device", {**_eth0(""), **profile_files({"ifcfg-eth1": PLAIN_ETH1})},
            ["--bridge", "eth1", "--port", "eth0"], ["eth1", "ifcfg-eth1", "TYPE=Ethernet"],
            "choose another bridge name"),
    Refusal("keyfile by interface name", {**profile_files({"ifcfg-eth0": STATIC_ETH0}),
                                          **_keyfile("cloud-init-eth0.nmconnection", "interface-name=eth0\n")},
            BR0_ETH0, ["eth0", "cloud-init-eth0.nmconnection"], "Remove or convert that profile"),
    Refusal("keyfile by MAC", {**profile_files({"ifcfg-eth0": STATIC_ETH0}), **sys_mac("eth0", "52:54:00:2f:3e:4d"),
                               **_keyfile("office.nmconnection", "[ethernet]\nmac-address=52:54:00:2F:3E:4D\n")},
            BR0_ETH0, ["eth0", "office.nmconnection"], "Remove or convert that profile"),
    Refusal("keyfile by HWADDR", {**profile_files({"ifcfg-eth0": STATIC_ETH0 + "HWADDR=52:54:00:2F:3E:4D\n"}),
                                  **_keyfile("office", "[ethernet]\nmac-address=52:54:00:2f:3e:4d\n")},
            BR0_ETH0, ["eth0", "office"], "Remove or convert that profile"),
    Refusal("keyfile with bak suffix", {**profile_files({"ifcfg-eth0": STATIC_ETH0}),
                                        **_keyfile("eth0.nmconnection.bak", "interface-name=eth0\n")},
            BR0_ETH0, ["eth0.nmconnection.bak"], "Remove or convert that profile"),
    Refusal("keyfile under run", {**profile_files({"ifcfg-eth0": STATIC_ETH0}),
                                  "run/NetworkManager/system-connections/eth0.nmconnection":
                                      "[connection]\ninterface-name=eth0\n"},
            BR0_ETH0, ["run/NetworkManager/system-connections/eth0.nmconnection"], "Remove or convert that profile"),
    Refusal("no profile", profile_files({"ifcfg-eth1": PLAIN_ETH1}), BR0_ETH0, ["eth0", "ifcfg-eth1"],
            "create /etc/sysconfig/network-scripts/ifcfg-eth0"),
    Refusal("several profiles by device", profile_files({"ifcfg-eth0": STATIC_ETH0, "ifcfg-eth0.old": STATIC_ETH0}),
            BR0_ETH0, ["eth0", "ifcfg-eth0.old", "ifcfg-eth0,"], "remove or rename the stale ones"),
    Refusal("several profiles by HWADDR", {**profile_files({"ifcfg-one": "HWADDR=52:54:00:aa:bb:cc\n",
                                                            "ifcfg-two": "HWADDR=52:54:00:AA:BB:CC\n"}),
                                           **sys_mac("eth0", "52:54:00:aa:bb:cc")},
            BR0_ETH0, ["ifcfg-one", "ifcfg-two", "HWADDR"], "remove or rename the stale ones"),
    Refusal("existing bridge and port both addressed", profile_files({"ifcfg-eth0": STATIC_ETH0,
                                                                      "ifcfg-br0": BRIDGE_WITH_ADDRESS}),
            BR0_ETH0, ["ifcfg-eth0", "ifcfg-br0"], "Remove the addresses from one of the two files"),
    Refusal("half converted host", profile_files({"ifcfg-eth0": "DEVICE=eth0\nBOOTPROTO=none\nBRIDGE=br0\n"}),
            BR0_ETH0, ["ifcfg-eth0", "BRIDGE=br0", "ifcfg-br0", "missing"], "restore the port's backup"),
    Refusal("route target exists", profile_files({"ifcfg-eth0": STATIC_ETH0,
                                                  "route-eth0": "10.0.0.0/8 via 192.0.2.1 dev eth0\n",
                                                  "route-br0": "10.9.0.0/16 via 192.0.2.1 dev br0\n"}),
            BR0_ETH0, ["route-eth0", "route-br0", "already exists"], "merge the two files"),
    Refusal("two route files one target", profile_files({
        "ifcfg-Wired_connection_1": "DEVICE=eth0\nIPADDR=192.0.2.10\nPREFIX=24\n",
        "route-Wired_connection_1": "10.0.0.0/8 via 192.0.2.254\n",
        "route-eth0": "10.9.0.0/16 via 192.0.2.254 dev eth0\n"}),
            BR0_ETH0, ["route-br0", "route-"], "merge the two files"),
    Refusal("alias target exists", profile_files({"ifcfg-eth0": STATIC_ETH0,
                                                  "ifcfg-eth0:1": "DEVICE=eth0:1\nIPADDR=192.0.2.11\n",
                                                  "ifcfg-br0:1": "DEVICE=br0:1\nIPADDR=192.0.2.12\n"}),
            BR0_ETH0, ["ifcfg-eth0:1", "ifcfg-br0:1"], "merge the two files"),
    Refusal("CIDR disagrees with PREFIX", profile_files({"ifcfg-eth0": "DEVICE=eth0\nIPADDR=192.0.2.10/24\n"
                                                                       "PREFIX=25\n"}),
            BR0_ETH0, ["ifcfg-eth0", "line 2", "IPADDR", "/24", "PREFIX", "/25"], "make them agree"),
    Refusal("CIDR disagrees with NETMASK", profile_files({"ifcfg-eth0": "DEVICE=eth0\nIPADDR=192.0.2.10/24\n"
                                                                        "NETMASK=255.255.0.0\n"}),
            BR0_ETH0, ["IPADDR", "NETMASK", "/16"], "make them agree"),
    Refusal("two ports with addresses", profile_files({"ifcfg-eth0": STATIC_ETH0,
                                                       "ifcfg-eth1": PLAIN_ETH1.replace("BOOTPROTO=none",
                                                                                        "BOOTPROTO=dhcp")}),
            BR0_TWO_PORTS, ["eth0", "eth1", "ifcfg-eth1"], "remove the addresses from all ports but one"),
    Refusal("ports disagree NM_CONTROLLED", profile_files({"ifcfg-eth0": STATIC_ETH0 + "NM_CONTROLLED=no\n",
                                                           "ifcfg-eth1": PLAIN_ETH1}),
            BR0_TWO_PORTS, ["NM_CONTROLLED", "eth0 no", "eth1 yes"], "Set the same NM_CONTROLLED"),
    Refusal("ports disagree ONBOOT", profile_files({"ifcfg-eth0": STATIC_ETH0,
                                                    "ifcfg-eth1": PLAIN_ETH1.replace("ONBOOT=yes", "ONBOOT=no")}),
            BR0_TWO_PORTS, ["ONBOOT", "eth0 yes", "eth1 no"], "Set the same ONBOOT"),
    Refusal("new port disagrees with bridge NM_CONTROLLED",
            profile_files({"ifcfg-br0": BRIDGE_WITH_ADDRESS + "NM_CONTROLLED=no\n", "ifcfg-eth1": PLAIN_ETH1}),
            ["--bridge", "br0", "--port", "eth1"], ["NM_CONTROLLED", "ifcfg-br0", "eth1"], "Set the same NM_CONTROLLED"),
    Refusal("new port disagrees with bridge ONBOOT",
            profile_files({"ifcfg-br0": BRIDGE_WITH_ADDRESS,
                           "ifcfg-eth1": PLAIN_ETH1.replace("ONBOOT=yes", "ONBOOT=no")}),
            ["--bridge", "br0", "--port", "eth1"], ["ONBOOT", "ifcfg-br0", "eth1"], "Set the same ONBOOT"),
    Refusal("BOOTPROTO upper case", profile_files({"ifcfg-eth0": "DEVICE=eth0\nBOOTPROTO=DHCP\n"}), BR0_ETH0,
            ["ifcfg-eth0", "line 2", "BOOTPROTO=DHCP", "static", "network scripts", "NetworkManager"],
            "write BOOTPROTO=dhcp or BOOTPROTO=none"),
    Refusal("boolean read two ways", profile_files({"ifcfg-eth0": "DEVICE=eth0\nONBOOT=on\n"}), BR0_ETH0,
            ["ifcfg-eth0", "ONBOOT=on", "network scripts", "NetworkManager"], "write ONBOOT=yes or ONBOOT=no"),
    Refusal("TYPE case differs", profile_files({"ifcfg-eth0": "DEVICE=eth0\nTYPE=ethernet\n"}), BR0_ETH0,
            ["ifcfg-eth0", "TYPE=ethernet"], "write TYPE=Ethernet"),
    Refusal("unreadable port line", profile_files({"ifcfg-eth0": "DEVICE=eth0\nNAME=System eth0\n"}), BR0_ETH0,
            ["ifcfg-eth0", "line 2", "NAME"], "double quotes"),
    Refusal("symlink bridge target", profile_files({"ifcfg-eth0": STATIC_ETH0}), BR0_ETH0,
            ["ifcfg-br0", "symbolic link"], "Replace it with a regular file",
            links={f"{SCRIPTS}/ifcfg-br0": "/nonexistent/ifcfg-br0"}),
    Refusal("symlink port profile", {"etc/real/ifcfg-eth0": STATIC_ETH0}, BR0_ETH0,
            ["ifcfg-eth0", "symbolic link"], "Replace it with a regular file",
            links={f"{SCRIPTS}/ifcfg-eth0": "../../real/ifcfg-eth0"}),
    Refusal("symlink network file", {**profile_files({"ifcfg-eth0": STATIC_ETH0}),
                                     "etc/real/network": "GATEWAYDEV=eth0\n"}, BR0_ETH0,
            ["/etc/sysconfig/network", "symbolic link"], "Replace it with a regular file",
            links={"etc/sysconfig/network": "../real/network"}),
    Refusal("enslaved on running system", profile_files({"ifcfg-eth0": STATIC_ETH0}), BR0_ETH0,
            ["eth0", "virbr1"], "nomaster",
            links={"sys/class/net/eth0/master": "../virbr1"}),
]


def _build(refusal: Refusal, root: Path) -> None:
    write_tree(root, refusal.files)
    for relative, target in refusal.links.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)


@pytest.mark.parametrize("command", [plan, apply], ids=["plan", "apply"])
@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda refusal: refusal.name)
def test_refusal_changes_nothing(refusal: Refusal, command: Callable[..., object], tmp_path: Path) -> None:
    _build(refusal, tmp_path)
    before = snapshot(tmp_path)

    result = command(tmp_path, refusal.arguments)

    assert result.status == 1  # type: ignore[attr-defined]
    assert tree_differences(before, snapshot(tmp_path)) == []
    assert not state_dir_exists(tmp_path)


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda refusal: refusal.name)
def test_refusal_names_items(refusal: Refusal, tmp_path: Path) -> None:
    _build(refusal, tmp_path)
    result = apply(tmp_path, refusal.arguments)
    assert result.stderr.startswith("bridgecfg: error: ")
    assert "internal error" not in result.stderr
    for word in refusal.mentions:
        assert word in result.stderr


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda refusal: refusal.name)
def test_refusal_suggests_fix(refusal: Refusal, tmp_path: Path) -> None:
    _build(refusal, tmp_path)
    result = plan(tmp_path, refusal.arguments)
    assert refusal.fix.lower() in result.stderr.lower()


def test_bridge_name_15_bytes_accepted(tmp_path: Path) -> None:
    write_tree(tmp_path, _eth0(""))
    assert plan(tmp_path, ["--bridge", "br-enp129s0f1np", "--port", "eth0"]).status == 2
    assert plan(tmp_path, ["--bridge", "br" + "\u00e9" * 6 + "x", "--port", "eth0"]).status == 2


def test_keyfile_other_nic_ignored(tmp_path: Path) -> None:
    write_tree(tmp_path, {**profile_files({"ifcfg-eth0": STATIC_ETH0}), **sys_mac("eth0", "52:54:00:2f:3e:4d"),
                          **_keyfile("other.nmconnection", "interface-name=eth1\n[ethernet]\n"
                                                           "mac-address=52:54:00:2f:3e:4e\n")})
    assert plan(tmp_path, BR0_ETH0).status == 2


@pytest.mark.parametrize(("directory", "name"), [
    (KEYFILES, ".eth0.nmconnection"),
    (KEYFILES, "eth0.nmconnection~"),
    (KEYFILES, "eth0.Ab12Cd"),
    (KEYFILES, "eth0.pem"),
    (KEYFILES, "eth0.der"),
    ("run/NetworkManager/system-connections", "eth0.conf"),
])
def test_keyfile_skipped_names_ignored(directory: str, name: str, tmp_path: Path) -> None:
    write_tree(tmp_path, {**profile_files({"ifcfg-eth0": STATIC_ETH0}),
                          f"{directory}/{name}": "[connection]\ninterface-name=eth0\n"})
    assert plan(tmp_path, BR0_ETH0).status == 2


def test_keyfile_under_usr_lib(tmp_path: Path) -> None:
    write_tree(tmp_path, {**profile_files({"ifcfg-eth0": STATIC_ETH0}),
                          "usr/lib/NetworkManager/system-connections/eth0.nmconnection":
                              "[connection]\ninterface-name=eth0\n"})
    result = plan(tmp_path, BR0_ETH0)
    assert result.status == 1
    assert "usr/lib/NetworkManager/system-connections/eth0.nmconnection" in result.stderr


def test_keyfile_message_says_once(tmp_path: Path) -> None:
    write_tree(tmp_path, {**profile_files({"ifcfg-eth0": STATIC_ETH0}),
                          **_keyfile("eth0.nmconnection", "interface-name=eth0\n")})
    result = plan(tmp_path, BR0_ETH0)
    assert result.stderr.lower().count("no files were changed") == 1


def test_unrelated_unreadable_profile_skipped(tmp_path: Path) -> None:
    write_tree(tmp_path, profile_files({"ifcfg-eth0": STATIC_ETH0, "ifcfg-wlan9": "DEVICE=wlan9\nKEY=$(id)\n"}))
    result = plan(tmp_path, BR0_ETH0)
    assert result.status == 2
    assert "ifcfg-wlan9" in result.stderr


def test_unreadable_profile_naming_port(tmp_path: Path) -> None:
    write_tree(tmp_path, profile_files({"ifcfg-eth0": STATIC_ETH0, "ifcfg-legacy": "DEVICE=eth0\nKEY=$(id)\n"}))
    result = plan(tmp_path, BR0_ETH0)
    assert result.status == 1
    assert "ifcfg-legacy" in result.stderr
