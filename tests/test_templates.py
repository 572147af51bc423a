"""Edited template directories (--templates): layout changes work, anything else is a clear error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hostroot import SCRIPTS, apply, plan, profile_files, snapshot, tree_differences, write_tree

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
ARGUMENTS = ["--bridge", "br0", "--port", "eth0"]


@pytest.fixture
def edited(tmp_path: Path) -> Path:
    """A copy of the bundled templates to edit, beside a host with one static port."""
    directory = tmp_path / "templates"
    shutil.copytree(TEMPLATES, directory)
    write_tree(tmp_path / "root", profile_files({"ifcfg-eth0": "DEVICE=eth0\nIPADDR=192.0.2.10\nPREFIX=24\n"}))
    return directory


def _edit(directory: Path, name: str, old: str, new: str) -> None:
    path = directory / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_template_comment_added(edited: Path, tmp_path: Path) -> None:
    _edit(edited, "ifcfg-bridge.j2", "STP={{ stp }}", "# Spanning tree stays off for DHCP at boot\nSTP={{ stp }}")
    arguments = ARGUMENTS + ["--templates", str(edited)]
    root = tmp_path / "root"

    assert apply(root, arguments).status == 0
    assert plan(root, arguments).status == 0

    assert "# Spanning tree stays off" in (root / SCRIPTS / "ifcfg-br0").read_text()


@pytest.mark.parametrize(("line", "words"), [
    ("FOO=$(id)", ["ifcfg-bridge.j2", "FOO", "$( )"]),
    ("EXTRA=yes", ["ifcfg-bridge.j2", "EXTRA"]),
    ("NAME={{ device }} bridge", ["ifcfg-bridge.j2", "NAME"]),
])
def test_template_bad_line_refused(line: str, words: list, edited: Path, tmp_path: Path) -> None:
    _edit(edited, "ifcfg-bridge.j2", "STP={{ stp }}", f"{line}\nSTP={{{{ stp }}}}")
    root = tmp_path / "root"
    before = snapshot(root)

    result = apply(root, ARGUMENTS + ["--templates", str(edited)])

    assert result.status == 1
    assert result.stderr.startswith("bridgecfg: error: --templates")
    assert "internal error" not in result.stderr
    for word in words:
        assert word in result.stderr
    assert tree_differences(before, snapshot(root)) == []


def test_template_undefined_variable(edited: Path, tmp_path: Path) -> None:
    _edit(edited, "ifcfg-bridge.j2", "{{ device }}", "{{ devices }}")
    result = plan(tmp_path / "root", ARGUMENTS + ["--templates", str(edited)])
    assert result.status == 1
    assert "'devices' is undefined" in result.stderr
    assert "internal error" not in result.stderr


def test_template_missing_file(edited: Path, tmp_path: Path) -> None:
    (edited / "route.j2").unlink()
    result = plan(tmp_path / "root", ARGUMENTS + ["--templates", str(edited)])
    assert result.status == 1
    assert "route.j2" in result.stderr
