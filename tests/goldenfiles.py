"""Golden folders: an input tree, the arguments to run on it, and the exact tree apply must leave.

`golden/<name>/before/` is a host tree (etc/..., sys/...), `args` contains the command-line
arguments after `--root`, and `config.yaml`, when present, is passed with --config.
`expected/` is the tree after `apply`, without bridgecfg's state directory.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Dict, List

from hostroot import CliResult, apply, files_of

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def golden_folders() -> List[Path]:
    return sorted(path for path in GOLDEN_DIR.iterdir() if (path / "args").is_file())


def golden_arguments(folder: Path) -> List[str]:
    arguments = shlex.split((folder / "args").read_text(encoding="utf-8"))
    if (folder / "config.yaml").is_file():
        arguments += ["--config", str(folder / "config.yaml")]
    return arguments


def lay_out(folder: Path, root: Path) -> None:
    """Copy a golden folder's input tree to root."""
    shutil.copytree(folder / "before", root, dirs_exist_ok=True)


def apply_golden(folder: Path, root: Path) -> CliResult:
    lay_out(folder, root)
    return apply(root, golden_arguments(folder))


def expected_files(folder: Path) -> Dict[str, bytes]:
    return files_of(folder / "expected")
