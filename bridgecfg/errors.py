"""The exception hierarchy of bridgecfg.

Library code raises these; only the front ends (the CLI and the Ansible module) turn
them into messages and exit codes. Each class also inherits the builtin that matches
its kind, so callers that only know the builtins still catch them sensibly.
"""

from __future__ import annotations


class BridgecfgError(Exception):
    """Root of every error that bridgecfg raises on purpose."""


class InvalidInput(BridgecfgError, ValueError):
    """The request is wrong: a bad option, configuration value or interface name.

    The user fixes the command line or the configuration file.
    """


class UnreadableFile(BridgecfgError, ValueError):
    """A file on the host uses a construct that bridgecfg cannot read safely.

    The admin rewrites the named line.
    """

    def __init__(self, path: str, line: int, key: str, reason: str) -> None:
        self.path = path
        self.line = line
        self.key = key
        self.reason = reason
        where = f"{path}, line {line}" if line else path
        subject = f"key {key}: " if key else ""
        super().__init__(f"{where}: {subject}{reason}")


class HostConflict(BridgecfgError, RuntimeError):
    """The host's files or running state rule out the change as requested.

    The admin resolves the named conflict on the host first.
    """


class TransactionError(BridgecfgError, RuntimeError):
    """A transaction cannot start, be confirmed or be rolled back in its current state."""


class ApplyFailed(BridgecfgError, RuntimeError):
    """Writing files or changing the running system failed part-way."""


class VerifyFailed(ApplyFailed):
    """The running system does not match the desired topology after the change."""


class RolledBack(ApplyFailed):
    """The change failed or did not verify, and the host was restored to its snapshot."""


class RollbackFailed(BridgecfgError, RuntimeError):
    """Restoring the snapshot failed; the host needs manual attention."""


class InternalError(BridgecfgError, AssertionError):
    """bridgecfg caught itself producing output it cannot read back: a bug."""
