"""Helpers for tests that run bridgecfg on host trees under a temporary root.

A host tree is a directory that stands for `/`: profiles live under
`<root>/etc/sysconfig/network-scripts`, sysfs MACs under `<root>/sys/class/net`.
Nothing here touches the running system.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import io
import os
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from bridgecfg import cli, files

SCRIPTS = "etc/sysconfig/network-scripts"
NETWORK_FILE = "etc/sysconfig/network"
STATE_DIR = files.STATE_DIR.lstrip("/")
# Suffixes that the network scripts, NetworkManager's ifcfg-rh and udev's rename_device
# all skip, so a backup with one of them is never loaded as a profile.
SKIPPED_SUFFIXES = ("~", ".bak", ".orig", ".rpmnew")
PROFILE_PREFIXES = ("ifcfg-", "route-", "route6-", "rule-", "rule6-")
ASSIGNMENT_LINE = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=")


# --- Building and inspecting trees -------------------------------------------------

def write_tree(root: Path, files: Mapping[str, Union[str, bytes]]) -> None:
    """Create files under root, keyed by path relative to root. Text values are written as UTF-8."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)


def profile_files(files: Mapping[str, Union[str, bytes]]) -> Dict[str, Union[str, bytes]]:
    """Map bare file names (ifcfg-eth0, route-eth0) to their place under network-scripts."""
    return {f"{SCRIPTS}/{name}": content for name, content in files.items()}


@dataclasses.dataclass(frozen=True)
class TreeEntry:
    """One path of a tree: its kind, its content (bytes or link target) and its stat values."""

    kind: str
    content: Union[bytes, str, None]
    mode: int
    mtime_ns: int


def snapshot(root: Path) -> Dict[str, TreeEntry]:
    """Record every directory, file and symbolic link under root, keyed by relative path."""
    entries: Dict[str, TreeEntry] = {}
    for directory, subdirectories, names in os.walk(root):
        for name in subdirectories + names:
            path = Path(directory) / name
            relative = str(path.relative_to(root))
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                entries[relative] = TreeEntry("link", os.readlink(path), 0, 0)
            elif stat.S_ISDIR(info.st_mode):
                entries[relative] = TreeEntry("dir", None, stat.S_IMODE(info.st_mode), 0)
            else:
                entries[relative] = TreeEntry("file", path.read_bytes(), stat.S_IMODE(info.st_mode), info.st_mtime_ns)
    return entries


def tree_differences(before: Mapping[str, TreeEntry], after: Mapping[str, TreeEntry]) -> List[str]:
    """Describe every path that was added, removed or changed between two snapshots."""
    differences = []
    for path in sorted(set(before) | set(after)):
        if path not in before:
            differences.append(f"added {path}")
        elif path not in after:
            differences.append(f"removed {path}")
        elif before[path] != after[path]:
            differences.append(f"changed {path}")
    return differences


def files_of(root: Path, *, exclude_state: bool = True) -> Dict[str, bytes]:
    """Return the bytes of every regular file under root, without bridgecfg's state directory."""
    result = {}
    for relative, entry in snapshot(root).items():
        if entry.kind != "file":
            continue
        if exclude_state and (relative == STATE_DIR or relative.startswith(STATE_DIR + "/")):
            continue
        assert isinstance(entry.content, bytes)
        result[relative] = entry.content
    return result


def is_loaded_profile_name(name: str) -> bool:
    """Tell whether at least one ifcfg reader loads a file of this name from network-scripts."""
    return name.startswith(PROFILE_PREFIXES) and not name.endswith(SKIPPED_SUFFIXES)


# --- Running the command line ------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class CliResult:
    """Exit status and output of one in-process bridgecfg run."""

    status: int
    stdout: str
    stderr: str


def run_cli(arguments: Sequence[str]) -> CliResult:
    """Run bridgecfg.cli.main with the arguments, capturing its output."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            status = cli.main(list(arguments))
        except SystemExit as exit_request:
            status = exit_request.code if isinstance(exit_request.code, int) else 1
    return CliResult(status, stdout.getvalue(), stderr.getvalue())


def _checked_root(root: Path) -> str:
    # The tests write only under temporary roots; the host's own / is never a target.
    assert root.resolve() != Path("/"), "tests must not run bridgecfg on the host's root"
    return str(root)


def plan(root: Path, arguments: Sequence[str]) -> CliResult:
    return run_cli(["plan", "--root", _checked_root(root), *arguments])


def apply(root: Path, arguments: Sequence[str]) -> CliResult:
    """Run apply --files-only, so that no code path of the running system's change is ever taken."""
    return run_cli(["apply", "--root", _checked_root(root), "--yes", "--files-only", *arguments])


# --- Reading files the way bash does -----------------------------------------------

BASH = shutil.which("bash") or "/bin/bash"
_BEGIN = "__bridgecfg_test_begin__"
_VALUES = "__bridgecfg_test_values__"
_COMMAND = "__bridgecfg_test_command__ "
_RAN = "__bridgecfg_test_ran__ "
# Runs before the file's text: no command can be found on PATH, a missing command prints
# a marker instead of an error, and from `set -r` on bash is restricted (no redirections,
# no PATH changes, no `source` of other paths). The DEBUG trap, inherited by functions
# and command substitutions (set -T), prints every simple command before it runs.
_PROLOGUE = f"""\
PATH=/nonexistent/bridgecfg-tests
command_not_found_handle() {{ printf '%s\\n' "{_RAN}$1"; return 127; }}
set -T
for __bc_name in $(compgen -v); do printf '%s\\0' "$__bc_name"; done
printf '%s\\n' "{_BEGIN}"
set -r
trap 'printf "%s\\n" "{_COMMAND}$BASH_COMMAND"' DEBUG
"""
_EPILOGUE = f"""
trap - DEBUG
printf '%s\\n' "{_VALUES}"
for __bc_name in $(compgen -v); do printf '%s\\0%s\\0' "$__bc_name" "${{!__bc_name}}"; done
"""


@dataclasses.dataclass(frozen=True)
class BashReading:
    """What restricted bash did when it sourced a file's text."""

    values: Dict[str, str]
    commands: List[str]
    stray_output: str
    stderr: str
    status: int

    def problems(self) -> List[str]:
        """List everything that shows the file is more than plain assignments."""
        found = []
        if self.status != 0:
            found.append(f"bash exited with status {self.status}")
        if self.stderr:
            found.append(f"bash wrote to stderr: {self.stderr!r}")
        if self.stray_output:
            found.append(f"the file produced output: {self.stray_output!r}")
        for command in self.commands:
            if not is_plain_assignment(command):
                found.append(f"bash ran a command that is not a plain assignment: {command!r}")
        for key, value in self.values.items():
            if _RAN in value or _COMMAND in value:
                found.append(f"the value of {key} ran a command: {value!r}")
        return found


def is_plain_assignment(command: str) -> bool:
    """Tell whether a simple command as bash shows it is exactly one NAME=word assignment."""
    try:
        words = shlex.split(command, posix=True)
    except ValueError:
        return False
    return len(words) == 1 and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", command) is not None


def bash_source(text: Union[str, bytes]) -> BashReading:
    """Source text in restricted bash with an empty environment and report what it did."""
    body = text.decode("utf-8", errors="surrogateescape") if isinstance(text, bytes) else text
    if body and not body.endswith("\n"):
        body += "\n"
    script = (_PROLOGUE + body + _EPILOGUE).encode("utf-8", errors="surrogateescape")
    completed = subprocess.run([BASH, "--noprofile", "--norc", "-s"], input=script, capture_output=True,
                               env={}, timeout=60, check=False)
    output = completed.stdout.decode("utf-8", errors="surrogateescape")
    baseline_part, _, rest = output.partition(_BEGIN + "\n")
    baseline = set(baseline_part.split("\0"))
    trace, _, dump = rest.partition(_VALUES + "\n")
    commands, stray = [], []
    # Split on LF only: bash ends lines there, while str.splitlines also breaks at U+0085 and others.
    lines = trace.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        if line.startswith(_COMMAND):
            commands.append(line[len(_COMMAND):])
        else:
            stray.append(line)
    if commands and commands[-1] == "trap - DEBUG":
        commands.pop()
    fields = dump.split("\0")
    values = {}
    for name, value in zip(fields[0::2], fields[1::2]):
        if name.startswith("__bc_") or (name in baseline and not _assigns(body, name)):
            continue
        values[name] = value
    return BashReading(values=values, commands=commands, stray_output="\n".join(stray),
                       stderr=completed.stderr.decode("utf-8", errors="replace"), status=completed.returncode)


def _assigns(body: str, name: str) -> bool:
    return any(match.group(1) == name for match in map(ASSIGNMENT_LINE.match, body.split("\n")) if match)


def shell_values(data: bytes) -> Dict[str, str]:
    """Return what bash assigns when it sources a file that must be plain assignments."""
    reading = bash_source(data)
    problems = reading.problems()
    assert not problems, "; ".join(problems)
    return reading.values


def case_values(data: bytes) -> Dict[str, str]:
    """Read an input file the way the network scripts mean it, with CRLF line ends taken as LF."""
    return bash_source(data.replace(b"\r\n", b"\n")).values


# --- Output hygiene ----------------------------------------------------------------

def hygiene_problems(data: bytes) -> List[str]:
    """List the ways a written ifcfg-style file breaks the output rules."""
    problems = []
    if b"\r" in data:
        problems.append("contains a CR byte")
    if data and not data.endswith(b"\n"):
        problems.append("does not end with a newline")
    keys = [match.group(1) for match in map(ASSIGNMENT_LINE.match, data.decode("utf-8").split("\n")) if match]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        problems.append(f"repeats {', '.join(repeated)}")
    problems.extend(bash_source(data).problems())
    return problems


def matching_keys(values: Iterable[str], patterns: Iterable[str]) -> List[str]:
    pattern_list = list(patterns)
    return sorted(key for key in values if any(fnmatch.fnmatchcase(key, pattern) for pattern in pattern_list))


def backups_of(root: Path, original: str, data: bytes) -> List[Tuple[str, int]]:
    """Find the files under root, other than the original path, that hold data byte for byte."""
    found = []
    for relative, entry in snapshot(root).items():
        if entry.kind == "file" and relative != original and entry.content == data:
            found.append((relative, entry.mode))
    return found


def is_loadable_backup(relative: str) -> bool:
    """Tell whether a backup lies where an ifcfg reader would load it as a profile."""
    directory, _, name = relative.rpartition("/")
    return directory == SCRIPTS and is_loaded_profile_name(name)


def state_dir_exists(root: Path) -> bool:
    return (root / STATE_DIR).exists()


def sys_mac(interface: str, mac: str) -> Dict[str, str]:
    """The sysfs file that gives an interface its MAC under a test root."""
    return {f"sys/class/net/{interface}/address": mac + "\n"}
