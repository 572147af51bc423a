"""Golden files: apply on each golden input tree must leave exactly the expected tree.

Rendered files are also sourced by restricted bash, which must run nothing and read the
values bridgecfg's own reader reads. Regenerate expected/ by hand with update_golden.py.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Dict

import pytest

from bridgecfg.current.shellvars import parse_bytes
from goldenfiles import apply_golden, expected_files, golden_arguments, golden_folders, lay_out
from hostroot import (
    SCRIPTS, apply, files_of, hygiene_problems, plan, shell_values, snapshot, state_dir_exists, tree_differences,
)

FOLDERS = golden_folders()
_KEY_VALUE_LINE = re.compile(rb"^[A-Za-z_][A-Za-z0-9_]*=", re.MULTILINE)


def _written(folder: Path) -> Dict[str, bytes]:
    """Return the expected files that differ from the input, that is the files bridgecfg writes."""
    before = files_of(folder / "before")
    return {path: data for path, data in expected_files(folder).items() if before.get(path) != data}


def _is_shell_file(relative: str, data: bytes) -> bool:
    name = Path(relative).name
    if name.startswith("ifcfg-") or relative == "etc/sysconfig/network":
        return True
    return bool(_KEY_VALUE_LINE.search(data))


def test_golden_set_complete() -> None:
    names = {folder.name for folder in FOLDERS}
    for required in ("route-ip-syntax", "route6-ip-syntax", "rule-iif", "route-key-value", "alias-file",
                     "network-file", "wired-connection-hwaddr", "two-ports", "mac-inherit", "stp-forward-delay",
                     "mtu", "config-static", "existing-bridge-second-port"):
        assert required in names
    assert len([name for name in names if name.startswith("case-")]) >= 14


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_golden_output_exact(folder: Path, tmp_path: Path) -> None:
    result = apply_golden(folder, tmp_path)
    assert result.status == 0, result.stderr
    actual = files_of(tmp_path)
    expected = expected_files(folder)
    assert sorted(actual) == sorted(expected)
    for relative, data in expected.items():
        assert actual[relative] == data, relative


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_golden_plan_then_noop(folder: Path, tmp_path: Path) -> None:
    lay_out(folder, tmp_path)
    arguments = golden_arguments(folder)
    initial = snapshot(tmp_path)

    assert plan(tmp_path, arguments).status == 2
    assert tree_differences(initial, snapshot(tmp_path)) == []
    assert not state_dir_exists(tmp_path)

    assert apply(tmp_path, arguments).status == 0
    applied = snapshot(tmp_path)
    second_plan = plan(tmp_path, arguments)
    assert second_plan.status == 0, second_plan.stdout
    assert apply(tmp_path, arguments).status == 0
    assert tree_differences(applied, snapshot(tmp_path)) == []


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_golden_output_hygiene(folder: Path) -> None:
    written = _written(folder)
    assert written, "a golden folder whose output equals its input tests nothing"
    for relative, data in written.items():
        assert b"\r" not in data, relative
        assert data.endswith(b"\n"), relative
        if _is_shell_file(relative, data):
            assert hygiene_problems(data) == [], relative


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_golden_bash_matches_reader(folder: Path) -> None:
    for relative, data in _written(folder).items():
        if _is_shell_file(relative, data):
            assert parse_bytes(data, path=relative).values == shell_values(data), relative


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_golden_written_mode(folder: Path, tmp_path: Path) -> None:
    assert apply_golden(folder, tmp_path).status == 0
    for relative in _written(folder):
        mode = stat.S_IMODE((tmp_path / relative).stat().st_mode)
        assert mode == 0o644, f"{relative} has mode {oct(mode)}"


def test_route_trap_word_kept() -> None:
    route = expected_files(Path(__file__).resolve().parent / "golden" / "route-ip-syntax")[f"{SCRIPTS}/route-br0"]
    assert b"dev eth0x" in route
    assert b"dev eth0\n" not in route
    assert b"dev eth0 " not in route
