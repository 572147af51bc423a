"""Run bridgecfg on ifcfg files from outside the project: NetworkManager's own reader test files.

The files are read from the shared folder beside the repository and are not part of it,
so the tests skip when it is absent. Each file becomes the port's profile under a fresh root.
`plan` must end in a plan or a clear refusal, never an internal error, and profiles that
cannot be bridge ports (Wi-Fi, InfiniBand, bond slaves, team ports) must be refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from hostroot import SCRIPTS, apply, files_of, hygiene_problems, plan, snapshot, tree_differences, write_tree

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "peer-corpus" / "nm-ifcfg"
FILES = sorted(CORPUS.iterdir()) if CORPUS.is_dir() else []
BRIDGE = "brtest0"
_DEVICE_LINE = re.compile(rb"^[ \t]*DEVICE=[\"']?([^\"'\s#]+)", re.MULTILINE)

# Profiles that can never be bridge ports, with a word the refusal must contain.
BOND_SLAVES = {"ifcfg-test-bond-port", "ifcfg-test-bond-port-bond0", "ifcfg-test-bond-port-ib"}
TEAM_PORTS = {"ifcfg-test-team-port-1", "ifcfg-test-team-port-2", "ifcfg-test-team-port-empty-config"}
INFINIBAND = {"ifcfg-test-infiniband0", "ifcfg-test-infiniband1", "ifcfg-test-infiniband2", "ifcfg-test-ipoib"}

pytestmark = pytest.mark.skipif(not FILES, reason=f"the peer corpus is not at {CORPUS}")


def _refusal_word(name: str) -> str:
    if name.startswith("ifcfg-test-wifi-"):
        return "Wi-Fi"
    if name in INFINIBAND:
        return "InfiniBand"
    if name in TEAM_PORTS:
        return "team port"
    if name in BOND_SLAVES:
        return "bond"
    return ""


def _device(data: bytes, fallback: str) -> str:
    match = _DEVICE_LINE.search(data)
    return match.group(1).decode("utf-8", errors="replace") if match else fallback


def _host(path: Path) -> Tuple[Dict[str, bytes], str]:
    """Lay out a corpus file as a port profile, with an alias file placed beside its parent profile."""
    if ":" in path.name:
        parent = path.parent / path.name.split(":")[0]
        port = _device(parent.read_bytes(), parent.name[len("ifcfg-"):])
        return {f"{SCRIPTS}/{parent.name}": parent.read_bytes(), f"{SCRIPTS}/{path.name}": path.read_bytes()}, port
    port = _device(path.read_bytes(), "eth0")
    return {f"{SCRIPTS}/ifcfg-{port}": path.read_bytes()}, port


def _ids(paths: List[Path]) -> List[str]:
    return [path.name for path in paths]


def test_corpus_refusal_set_present() -> None:
    names = {path.name for path in FILES}
    assert BOND_SLAVES | TEAM_PORTS | INFINIBAND <= names
    assert len([name for name in names if name.startswith("ifcfg-test-wifi-")]) >= 10


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_corpus_plan_or_clear_refusal(path: Path, tmp_path: Path) -> None:
    files, port = _host(path)
    write_tree(tmp_path, files)
    before = snapshot(tmp_path)

    result = plan(tmp_path, ["--bridge", BRIDGE, "--port", port])

    assert tree_differences(before, snapshot(tmp_path)) == []
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    if result.status == 1:
        assert result.stderr.startswith("bridgecfg: error: ")
    else:
        assert result.status in (0, 2), result.stderr


@pytest.mark.parametrize("path", [path for path in FILES if _refusal_word(path.name)],
                         ids=_ids([path for path in FILES if _refusal_word(path.name)]))
def test_corpus_non_ports_refused(path: Path, tmp_path: Path) -> None:
    files, port = _host(path)
    write_tree(tmp_path, files)

    result = plan(tmp_path, ["--bridge", BRIDGE, "--port", port])

    assert result.status == 1
    assert _refusal_word(path.name).lower() in result.stderr.lower()


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_corpus_apply_converges(path: Path, tmp_path: Path) -> None:
    files, port = _host(path)
    write_tree(tmp_path, files)
    arguments = ["--bridge", BRIDGE, "--port", port]
    if plan(tmp_path, arguments).status != 2:
        pytest.skip("bridgecfg refuses this profile, so there is nothing to apply")
    before = files_of(tmp_path)

    assert apply(tmp_path, arguments).status == 0

    for relative, data in files_of(tmp_path).items():
        if before.get(relative) != data and relative.startswith(f"{SCRIPTS}/ifcfg-"):
            assert hygiene_problems(data) == [], relative
    second = plan(tmp_path, arguments)
    assert second.status == 0, second.stdout
