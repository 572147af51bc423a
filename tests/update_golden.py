"""Regenerate the expected/ trees of golden folders from their inputs.

Run by hand after a deliberate change of the output, then review the diff with git:

    python tests/update_golden.py            # every folder
    python tests/update_golden.py mtu two-ports

The tests never call this script, so a wrong output cannot make them pass unnoticed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from goldenfiles import GOLDEN_DIR, apply_golden, golden_folders  # noqa: E402
from hostroot import files_of  # noqa: E402


def update(folder: Path) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        result = apply_golden(folder, root)
        if result.status != 0:
            raise SystemExit(f"{folder.name}: apply exited {result.status}: {result.stderr}")
        expected = folder / "expected"
        if expected.exists():
            shutil.rmtree(expected)
        for relative, data in files_of(root).items():
            target = expected / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    print(f"updated {folder.relative_to(GOLDEN_DIR.parent)}")


def main(names: list) -> None:
    folders = golden_folders()
    if names:
        folders = [folder for folder in folders if folder.name in names]
        missing = sorted(set(names) - {folder.name for folder in folders})
        if missing:
            raise SystemExit(f"no golden folder named {', '.join(missing)}")
    for folder in folders:
        update(folder)


if __name__ == "__main__":
    main(sys.argv[1:])
