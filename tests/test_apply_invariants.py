"""What plan and apply do to the tree around the files they convert: state, backups, modes, no-op runs."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Dict

import pytest

from hostroot import (
    SCRIPTS, STATE_DIR, apply, backups_of, files_of, hygiene_problems, is_loadable_backup, plan, profile_files,
    run_cli, snapshot, state_dir_exists, tree_differences, write_tree,
)

ARGUMENTS = ["--bridge", "br0", "--port", "eth0"]
# A port profile with CRLF line ends, a repeated key and no final newline, and its companions.
HOST: Dict[str, bytes] = {
    f"{SCRIPTS}/ifcfg-eth0": b"DEVICE=eth0\r\nONBOOT=no\r\nONBOOT=yes\r\nBOOTPROTO=none\r\nIPADDR=192.0.2.10\r\n"
                             b"PREFIX=24\r\nGATEWAY=192.0.2.1",
    f"{SCRIPTS}/route-eth0": b"10.0.0.0/8 via 192.0.2.254 dev eth0\n",
    f"{SCRIPTS}/ifcfg-lo": b"DEVICE=lo\nIPADDR=127.0.0.1\nNETMASK=255.0.0.0\nONBOOT=yes\n",
    "etc/sysconfig/network": b"NETWORKING=yes\nGATEWAYDEV=eth0\n",
}


def _host(root: Path, modes: Dict[str, int]) -> None:
    write_tree(root, HOST)
    for relative, mode in modes.items():
        os.chmod(root / relative, mode)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_plan_creates_nothing(tmp_path: Path) -> None:
    _host(tmp_path, {})
    before = snapshot(tmp_path)

    assert plan(tmp_path, ARGUMENTS).status == 2
    assert plan(tmp_path, ARGUMENTS + ["--json"]).status == 2

    assert tree_differences(before, snapshot(tmp_path)) == []
    assert not state_dir_exists(tmp_path)


def test_plan_json_lists_files(tmp_path: Path) -> None:
    _host(tmp_path, {})
    result = plan(tmp_path, ARGUMENTS + ["--json"])
    assert "/etc/sysconfig/network-scripts/ifcfg-br0" in result.stdout
    assert "/etc/sysconfig/network-scripts/route-eth0" in result.stdout


def test_backups_byte_identical(tmp_path: Path) -> None:
    _host(tmp_path, {})
    assert apply(tmp_path, ARGUMENTS).status == 0
    for relative in (f"{SCRIPTS}/ifcfg-eth0", f"{SCRIPTS}/route-eth0", "etc/sysconfig/network"):
        copies = backups_of(tmp_path, relative, HOST[relative])
        assert copies, relative
        assert not any(is_loadable_backup(path) for path, _ in copies), copies
        assert all(path.startswith(STATE_DIR + "/") for path, _ in copies), copies


def test_backups_keep_mode(tmp_path: Path) -> None:
    modes = {f"{SCRIPTS}/ifcfg-eth0": 0o600, "etc/sysconfig/network": 0o640, f"{SCRIPTS}/route-eth0": 0o644}
    _host(tmp_path, modes)

    assert apply(tmp_path, ARGUMENTS).status == 0

    for relative, mode in modes.items():
        copies = backups_of(tmp_path, relative, HOST[relative])
        assert [copy_mode for _, copy_mode in copies] == [mode], relative


def test_unrelated_file_untouched(tmp_path: Path) -> None:
    _host(tmp_path, {})
    before = snapshot(tmp_path)
    assert apply(tmp_path, ARGUMENTS).status == 0
    assert snapshot(tmp_path)[f"{SCRIPTS}/ifcfg-lo"] == before[f"{SCRIPTS}/ifcfg-lo"]
    assert backups_of(tmp_path, f"{SCRIPTS}/ifcfg-lo", HOST[f"{SCRIPTS}/ifcfg-lo"]) == []


def test_written_files_hygiene(tmp_path: Path) -> None:
    _host(tmp_path, {})
    assert apply(tmp_path, ARGUMENTS).status == 0
    for relative, data in files_of(tmp_path).items():
        if HOST.get(relative) == data:
            continue
        assert b"\r" not in data, relative
        assert data.endswith(b"\n"), relative
        if not Path(relative).name.startswith("route-"):
            assert hygiene_problems(data) == [], relative


@pytest.mark.parametrize("name", ["ifcfg-br0", "route-br0", "ifcfg-eth0"])
def test_written_files_mode_0644(name: str, tmp_path: Path) -> None:
    _host(tmp_path, {})
    assert apply(tmp_path, ARGUMENTS).status == 0
    assert _mode(tmp_path / SCRIPTS / name) == 0o644


def test_private_profile_stays_private(tmp_path: Path) -> None:
    _host(tmp_path, {f"{SCRIPTS}/ifcfg-eth0": 0o600})
    assert apply(tmp_path, ARGUMENTS).status == 0
    assert _mode(tmp_path / SCRIPTS / "ifcfg-eth0") & 0o077 == 0


def test_second_apply_writes_nothing(tmp_path: Path) -> None:
    _host(tmp_path, {})
    assert apply(tmp_path, ARGUMENTS).status == 0
    applied = snapshot(tmp_path)

    result = apply(tmp_path, ARGUMENTS)

    assert result.status == 0
    assert tree_differences(applied, snapshot(tmp_path)) == []


def test_noop_apply_creates_no_state(tmp_path: Path) -> None:
    write_tree(tmp_path, profile_files({
        "ifcfg-br0": "DEVICE=br0\nTYPE=Bridge\nONBOOT=yes\nBOOTPROTO=none\nIPADDR=192.0.2.10\nPREFIX=24\n",
        "ifcfg-eth0": "DEVICE=eth0\nTYPE=Ethernet\nONBOOT=yes\nBOOTPROTO=none\nBRIDGE=br0\n",
    }))
    before = snapshot(tmp_path)

    assert plan(tmp_path, ARGUMENTS).status == 0
    assert apply(tmp_path, ARGUMENTS).status == 0

    assert tree_differences(before, snapshot(tmp_path)) == []
    assert not state_dir_exists(tmp_path)


def test_apply_plans_current_bytes(tmp_path: Path) -> None:
    """Apply computes its own plan, so a file edited after an earlier plan is converted as it is now."""
    _host(tmp_path, {})
    assert plan(tmp_path, ARGUMENTS).status == 2
    (tmp_path / SCRIPTS / "ifcfg-eth0").write_bytes(b"DEVICE=eth0\nBOOTPROTO=dhcp\n")

    assert apply(tmp_path, ARGUMENTS).status == 0

    assert b"BOOTPROTO=dhcp" in (tmp_path / SCRIPTS / "ifcfg-br0").read_bytes()


def test_usage_error_creates_nothing(tmp_path: Path) -> None:
    _host(tmp_path, {})
    before = snapshot(tmp_path)
    result = run_cli(["apply", "--root", str(tmp_path), "--yes", "--files-only", "--bridge", "br0"])
    assert result.status == 1
    assert tree_differences(before, snapshot(tmp_path)) == []
