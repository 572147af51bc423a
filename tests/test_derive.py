"""Conversions that the cases and golden files do not pin down, each run through the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

from hostroot import SCRIPTS, apply, hygiene_problems, plan, profile_files, shell_values, sys_mac, write_tree

STATIC_ETH0 = "DEVICE=eth0\nTYPE=Ethernet\nONBOOT=yes\nBOOTPROTO=none\nIPADDR=192.0.2.10\nPREFIX=24\n"


def _values(root: Path, name: str) -> Dict[str, str]:
    return shell_values((root / SCRIPTS / name).read_bytes())


def _converge(root: Path, arguments: list) -> None:
    """Apply once and check that a second plan finds nothing to do."""
    first = apply(root, arguments)
    assert first.status == 0, first.stderr
    second = plan(root, arguments)
    assert second.status == 0, second.stdout


def test_mac_inherit_second_port_carrier(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        **profile_files({
            "ifcfg-eth0": "DEVICE=eth0\nTYPE=Ethernet\nBOOTPROTO=none\nHWADDR=52:54:00:00:00:10\n",
            "ifcfg-eth1": "DEVICE=eth1\nTYPE=Ethernet\nBOOTPROTO=dhcp\nHWADDR=52:54:00:00:00:11\n",
        }),
        **sys_mac("eth0", "52:54:00:00:00:10"),
        **sys_mac("eth1", "52:54:00:00:00:11"),
    })
    arguments = ["--bridge", "br0", "--port", "eth0", "eth1", "--mac", "inherit"]

    _converge(tmp_path, arguments)

    assert _values(tmp_path, "ifcfg-br0")["MACADDR"] == "52:54:00:00:00:11"


def test_mac_inherit_first_port_without_mac(tmp_path: Path) -> None:
    write_tree(tmp_path, profile_files({
        "ifcfg-eth0": "DEVICE=eth0\nTYPE=Ethernet\n",
        "ifcfg-eth1": "DEVICE=eth1\nTYPE=Ethernet\nHWADDR=52:54:00:12:34:56\nIPADDR0=192.0.2.20\n",
    }))
    _converge(tmp_path, ["--bridge", "br0", "--port", "eth0", "eth1", "--mac", "inherit"])
    assert _values(tmp_path, "ifcfg-br0")["MACADDR"] == "52:54:00:12:34:56"


def test_route_tabs_kept(tmp_path: Path) -> None:
    route = "\t# routes for the lab\n10.2.0.0/16\tvia 192.0.2.254\n10.3.0.0/16\tvia 192.0.2.254\tdev eth0\n"
    write_tree(tmp_path, profile_files({"ifcfg-eth0": STATIC_ETH0, "route-eth0": route}))

    _converge(tmp_path, ["--bridge", "br0", "--port", "eth0"])

    moved = (tmp_path / SCRIPTS / "route-br0").read_text()
    assert moved == "\t# routes for the lab\n10.2.0.0/16\tvia 192.0.2.254\n10.3.0.0/16 via 192.0.2.254 dev br0\n"


def test_profile_tab_comments_kept(tmp_path: Path) -> None:
    profile = "\t# the uplink\nDEVICE=eth0\t# kernel name\nBOOTPROTO=none\nIPADDR=192.0.2.10\nPREFIX=24\t# /24\n"
    write_tree(tmp_path, profile_files({"ifcfg-eth0": profile}))

    _converge(tmp_path, ["--bridge", "br0", "--port", "eth0"])

    port = (tmp_path / SCRIPTS / "ifcfg-eth0").read_text()
    assert port.startswith("\t# the uplink\nDEVICE=eth0\t# kernel name\n")
    assert "PREFIX=24\t# /24\n" in (tmp_path / SCRIPTS / "ifcfg-br0").read_text()


def test_kept_values_naming_port(tmp_path: Path) -> None:
    profile = STATIC_ETH0 + 'ETHTOOL_OPTS="-K eth0 tso off"\nNAME="System eth0"\n'
    write_tree(tmp_path, profile_files({"ifcfg-eth0": profile}))

    _converge(tmp_path, ["--bridge", "br0", "--port", "eth0"])

    port = _values(tmp_path, "ifcfg-eth0")
    assert port["ETHTOOL_OPTS"] == "-K eth0 tso off"
    assert port["NAME"] == "System eth0"
    assert "NAME" not in _values(tmp_path, "ifcfg-br0")


def test_export_dropped_from_port(tmp_path: Path) -> None:
    write_tree(tmp_path, profile_files({"ifcfg-eth0": "export DEVICE=eth0\nexport IPADDR=192.0.2.10\nPREFIX=24\n"}))

    _converge(tmp_path, ["--bridge", "br0", "--port", "eth0"])

    port = (tmp_path / SCRIPTS / "ifcfg-eth0").read_bytes()
    assert b"export" not in port
    assert hygiene_problems(port) == []
    assert _values(tmp_path, "ifcfg-br0")["IPADDR"] == "192.0.2.10"


def test_repeated_keys_collapse(tmp_path: Path) -> None:
    write_tree(tmp_path, profile_files({"ifcfg-eth0": "DEVICE=eth0\nMTU=1500\nIPADDR=192.0.2.9\nMTU=9000\n"
                                                      "IPADDR=192.0.2.10\nPREFIX=24\n"}))

    _converge(tmp_path, ["--bridge", "br0", "--port", "eth0"])

    assert hygiene_problems((tmp_path / SCRIPTS / "ifcfg-eth0").read_bytes()) == []
    assert _values(tmp_path, "ifcfg-eth0")["MTU"] == "9000"
    assert _values(tmp_path, "ifcfg-br0")["IPADDR"] == "192.0.2.10"


def test_dead_address_index_dropped(tmp_path: Path) -> None:
    write_tree(tmp_path, profile_files({"ifcfg-eth0": STATIC_ETH0 + "IPADDR3=192.0.2.13\nPREFIX3=24\n"}))

    result = plan(tmp_path, ["--bridge", "br0", "--port", "eth0"])
    _converge(tmp_path, ["--bridge", "br0", "--port", "eth0"])

    assert "IPADDR3" in result.stdout
    assert "IPADDR3" not in _values(tmp_path, "ifcfg-br0")
    assert "IPADDR3" not in _values(tmp_path, "ifcfg-eth0")


def test_netmask_prefix_note(tmp_path: Path) -> None:
    write_tree(tmp_path, profile_files({"ifcfg-eth0": "DEVICE=eth0\nIPADDR=198.51.100.70\nNETMASK=255.255.0.0\n"
                                                      "PREFIX=24\n"}))
    result = plan(tmp_path, ["--bridge", "br0", "--port", "eth0"])
    assert "NETMASK" in result.stdout
    assert "255.255.0.0" in result.stdout
    assert "PREFIX (24) is the effective value" in result.stdout


def test_dhcp_mac_note(tmp_path: Path) -> None:
    write_tree(tmp_path, profile_files({"ifcfg-eth0": "DEVICE=eth0\nBOOTPROTO=dhcp\n"}))
    result = plan(tmp_path, ["--bridge", "br0", "--port", "eth0"])
    assert "eth0 uses DHCP" in result.stdout
    assert "--mac inherit" in result.stdout


def test_netmask_kept_without_prefix(tmp_path: Path) -> None:
    write_tree(tmp_path, profile_files({"ifcfg-eth0": "DEVICE=eth0\nIPADDR=192.0.2.10\nNETMASK=255.255.255.128\n"}))
    _converge(tmp_path, ["--bridge", "br0", "--port", "eth0"])
    bridge = _values(tmp_path, "ifcfg-br0")
    assert bridge.get("NETMASK") == "255.255.255.128" or bridge.get("PREFIX") == "25"


def test_cidr_split_into_prefix(tmp_path: Path) -> None:
    write_tree(tmp_path, profile_files({"ifcfg-eth0": "DEVICE=eth0\nIPADDR1=192.0.2.11/26\nIPADDR=192.0.2.10/24\n"}))
    _converge(tmp_path, ["--bridge", "br0", "--port", "eth0"])
    bridge = _values(tmp_path, "ifcfg-br0")
    assert (bridge["IPADDR"], bridge["PREFIX"]) == ("192.0.2.10", "24")
    assert (bridge["IPADDR1"], bridge["PREFIX1"]) == ("192.0.2.11", "26")


def test_lenient_ipv4_forms_refused(tmp_path: Path) -> None:
    for text in ("010.0.0.1", "10.1", "1", "0x0a000001"):
        write_tree(tmp_path, profile_files({"ifcfg-eth0": f"DEVICE=eth0\nIPADDR={text}\nPREFIX=8\n"}))
        result = plan(tmp_path, ["--bridge", "br0", "--port", "eth0"])
        assert result.status == 1, text
        assert "IPADDR" in result.stderr


def test_ipv6_gateway_zone_rewritten(tmp_path: Path) -> None:
    write_tree(tmp_path, profile_files({"ifcfg-eth0": "DEVICE=eth0\nIPV6INIT=yes\nIPV6ADDR=2001:db8::10/64\n"
                                                      "IPV6_DEFAULTGW=fe80::1%eth0\n"}))
    _converge(tmp_path, ["--bridge", "br0", "--port", "eth0"])
    assert _values(tmp_path, "ifcfg-br0")["IPV6_DEFAULTGW"] == "fe80::1%br0"


def test_network_file_other_device(tmp_path: Path) -> None:
    network = "NETWORKING=yes\nGATEWAYDEV=eth1\n"
    write_tree(tmp_path, {**profile_files({"ifcfg-eth0": STATIC_ETH0}), "etc/sysconfig/network": network})
    _converge(tmp_path, ["--bridge", "br0", "--port", "eth0"])
    assert (tmp_path / "etc/sysconfig/network").read_text() == network


def test_vlan_port_keeps_type(tmp_path: Path) -> None:
    write_tree(tmp_path, profile_files({"ifcfg-eth0.42": "DEVICE=eth0.42\nVLAN=yes\nTYPE=Vlan\nPHYSDEV=eth0\n"
                                                         "VLAN_ID=42\nIPADDR=192.0.2.10\nPREFIX=24\n"}))
    _converge(tmp_path, ["--bridge", "br42", "--port", "eth0.42"])
    port = _values(tmp_path, "ifcfg-eth0.42")
    bridge = _values(tmp_path, "ifcfg-br42")
    assert (port["TYPE"], port["VLAN"], port["PHYSDEV"], port["VLAN_ID"]) == ("Vlan", "yes", "eth0", "42")
    assert not {"VLAN", "PHYSDEV", "VLAN_ID"} & set(bridge)


def test_wired_8021x_port_allowed(tmp_path: Path) -> None:
    profile = STATIC_ETH0 + "KEY_MGMT=IEEE8021X\nIEEE_8021X_EAP_METHODS=PEAP\nIEEE_8021X_IDENTITY=host1\n"
    write_tree(tmp_path, profile_files({"ifcfg-eth0": profile}))
    _converge(tmp_path, ["--bridge", "br0", "--port", "eth0"])
    port = _values(tmp_path, "ifcfg-eth0")
    assert port["KEY_MGMT"] == "IEEE8021X"
    assert port["IEEE_8021X_IDENTITY"] == "host1"
    assert "KEY_MGMT" not in _values(tmp_path, "ifcfg-br0")


def test_empty_ipaddr_ignored(tmp_path: Path) -> None:
    profile = "DEVICE=eth0\nIPADDR=\nNETMASK=\nIPV6INIT=yes\nIPV6_AUTOCONF=no\nIPV6ADDR=2001:db8::10/64\n"
    write_tree(tmp_path, profile_files({"ifcfg-eth0": profile}))
    _converge(tmp_path, ["--bridge", "br0", "--port", "eth0"])
    assert _values(tmp_path, "ifcfg-br0")["IPV6ADDR"] == "2001:db8::10/64"


def test_device_named_companions_move(tmp_path: Path) -> None:
    """The network scripts read route-<device> and ifcfg-<device>:N beside a profile named otherwise."""
    write_tree(tmp_path, profile_files({
        "ifcfg-Wired_connection_1": 'DEVICE=eth0\nIPADDR=192.0.2.10\nPREFIX=24\nNAME="Wired connection 1"\n',
        "route-eth0": "10.0.0.0/8 via 192.0.2.254 dev eth0\n",
        "rule-eth0": "iif eth0 table 100\n",
        "ifcfg-eth0:1": "DEVICE=eth0:1\nIPADDR=192.0.2.11\nPREFIX=24\n",
    }))

    _converge(tmp_path, ["--bridge", "br0", "--port", "eth0"])

    scripts = tmp_path / SCRIPTS
    assert sorted(path.name for path in scripts.iterdir()) == [
        "ifcfg-Wired_connection_1", "ifcfg-br0", "ifcfg-br0:1", "route-br0", "rule-br0"]
    assert (scripts / "route-br0").read_text() == "10.0.0.0/8 via 192.0.2.254 dev br0\n"
    assert (scripts / "rule-br0").read_text() == "iif br0 table 100\n"
    assert _values(tmp_path, "ifcfg-br0:1")["DEVICE"] == "br0:1"
