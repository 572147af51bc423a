"""The bridgecfg command line: plan, apply, confirm, rollback, status and schema.

Only this module turns exceptions into messages and exit codes.

Exit codes: plan 0 (nothing to do), 2 (changes pending), 1 (error or refusal).
apply 0 (done), 1 (error, refusal or declined), 3 (failed and rolled back),
4 (rollback failed). confirm, rollback and status 0 or 1. Usage errors exit 1 too,
because 2 means "changes pending".
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, NoReturn, Optional, Sequence

from bridgecfg import __version__, model
from bridgecfg.config import load_config, topology_from_options
from bridgecfg.errors import (
    ApplyFailed, BridgecfgError, InternalError, InvalidInput, RollbackFailed, RolledBack,
)

if TYPE_CHECKING:
    # Imported lazily at run time, so that plan over files, --help and --version stay light.
    from bridgecfg.apply import ApplyOptions, ApplyResult, Proposal, Target
    from bridgecfg.transaction import TransactionStore

log = logging.getLogger("bridgecfg")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES_PENDING = 2
EXIT_ROLLED_BACK = 3
EXIT_ROLLBACK_FAILED = 4
# On a live target, apply reverts after this many seconds unless confirmed.
DEFAULT_CONFIRM_TIMEOUT = 120.0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit 1: exit 2 means "changes pending" here."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bridgecfg", description="Turn a NIC into a port of a Linux bridge, in its ifcfg files "
                                                   "and on the running system, with a plan first, backups, and a "
                                                   "revert unless confirmed.")
    parser.add_argument("--version", action="version", version=f"bridgecfg {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    _add_plan(commands)
    _add_apply(commands)
    _add_confirm(commands)
    _add_rollback(commands)
    _add_status(commands)
    commands.add_parser("schema", help="print the JSON schema of --config files",
                        description="Print the JSON schema of the topology that --config files follow.")
    timer = commands.add_parser("revert-timer", description="Run the detached revert timer of a transaction "
                                                            "(started by apply; not for direct use).")
    _add_target_options(timer, live=False)
    timer.add_argument("--transaction", required=True, metavar="ID")
    boot = commands.add_parser("boot-revert", help="roll back every transaction never confirmed (run at boot)",
                               description="Roll back every transaction that is still pending or was interrupted. "
                                           "The shipped systemd unit runs this at boot, before the network starts.")
    _add_target_options(boot, live=False, namespace=False)
    return parser


def _add_plan(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    plan = commands.add_parser("plan", help="show the changes without making them",
                               description="Print a unified diff of every file that apply would create, change or "
                                           "remove, and on a live target the ordered netlink operations and the "
                                           "risks. Changes nothing. Exit 0: nothing to do, 2: changes pending, "
                                           "1: error.")
    _add_topology_options(plan)
    _add_target_options(plan, live=True)
    plan.add_argument("--live-from", choices=("kernel", "files"),
                      help="which side wins when the kernel and the files disagree about the port's addresses")
    plan.add_argument("--json", action="store_true", help="print the plan as one JSON document")


def _add_apply(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    apply = commands.add_parser("apply", help="make the planned changes as one transaction",
                                description="Back up and rewrite the files that plan shows and, on a live target, "
                                            "move the port's addresses, routes and rules to the bridge without a "
                                            "gap, verify, and revert unless confirmed. Exit 0: done, 1: error, "
                                            "refusal or declined, 3: failed and rolled back, 4: rollback failed.")
    _add_topology_options(apply)
    _add_target_options(apply, live=True)
    apply.add_argument("--yes", action="store_true", help="apply without asking (required without a terminal)")
    scope = apply.add_mutually_exclusive_group()
    scope.add_argument("--files-only", action="store_true", help="write the files; leave the running system alone")
    scope.add_argument("--live-only", action="store_true", help="change the running system; leave the files alone")
    apply.add_argument("--confirm-timeout", type=float, metavar="SECONDS",
                       help=f"revert a live change after this many seconds unless 'bridgecfg confirm' runs "
                            f"(default {DEFAULT_CONFIRM_TIMEOUT:g} on a live target; 0 disables the revert)")
    apply.add_argument("--live-from", choices=("kernel", "files"),
                       help="which side wins when the kernel and the files disagree about the port's addresses")
    apply.add_argument("--accept-outage", action="store_true",
                       help="accept the forwarding outage that STP causes (about twice the forward delay)")
    apply.add_argument("--check-host", action="append", default=[], metavar="ADDR[:PORT]",
                       help="also require, after the change, that ADDR resolves as a neighbour (or, with a port, "
                            "accepts a TCP connection), if it did before; repeatable")
    apply.add_argument("--json", action="store_true", help="print the plan and the result as JSON")


def _add_confirm(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    confirm = commands.add_parser("confirm", help="keep a pending transaction (disarm its revert)",
                                  description="Keep a pending transaction: its revert timer stops. Run it "
                                              "from a new session to prove that the host is still reachable.")
    confirm.add_argument("transaction", nargs="?", metavar="ID", help="transaction id (default: the pending one)")
    _add_target_options(confirm, live=False)


def _add_rollback(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rollback = commands.add_parser("rollback", help="restore the snapshot and files of a transaction",
                                   description="Restore the kernel snapshot and the original files of a transaction "
                                               "at once. Refuses when the host changed after it, or a newer "
                                               "transaction exists, unless --force.")
    rollback.add_argument("transaction", nargs="?", metavar="ID",
                          help="transaction id (default: the pending one, else the latest)")
    _add_target_options(rollback, live=False)
    rollback.add_argument("--force", action="store_true", help="roll back even if the host changed since")
    rollback.add_argument("--yes", action="store_true", help="roll back without asking (required without a "
                                                             "terminal)")


def _add_status(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    status = commands.add_parser("status", help="list pending and finished transactions",
                                 description="List the transactions in the state directory, newest last.")
    _add_target_options(status, live=False)
    status.add_argument("--json", action="store_true", help="print the transactions as JSON")


def _add_topology_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("desired topology (either --config, or --bridge with --port)")
    source.add_argument("--config", type=Path, metavar="FILE", help="YAML or JSON file with one or more bridges "
                                                                    "(see 'bridgecfg schema')")
    source.add_argument("--bridge", metavar="BR", help="name of the bridge to create, at most 15 bytes")
    source.add_argument("--port", dest="ports", action="extend", nargs="+", metavar="NIC",
                        help="interface that becomes a port of the bridge; repeat for several ports")
    source.add_argument("--mac", metavar="POLICY", help="bridge MAC in the files: 'none' (default), 'inherit' "
                                                       "(the port's MAC), or an address")
    source.add_argument("--stp", action=argparse.BooleanOptionalAction, default=None,
                        help="turn the spanning tree protocol on (default off)")
    source.add_argument("--forward-delay", type=int, metavar="SECONDS",
                        help="STP forward delay in seconds, 2 to 30 with STP on (default 0 with STP off)")
    source.add_argument("--mtu", type=int, metavar="BYTES", help="bridge MTU in bytes (default: the port's MTU)")
    parser.add_argument("--templates", type=Path, metavar="DIR",
                        help="directory with edited copies of the jinja2 templates (default: the bundled ones)")


def _add_target_options(parser: argparse.ArgumentParser, *, live: bool, namespace: bool = True) -> None:
    parser.add_argument("--root", type=Path, default=Path("/"), metavar="DIR",
                        help="filesystem root that holds /etc and /var/lib/bridgecfg (default /)")
    if namespace:
        parser.add_argument("--netns", metavar="NAME", help="act on the running system inside this existing "
                                                            "network namespace (never created)")
    if live:
        parser.add_argument("--live", action="store_true",
                            help="act on the running system of the current namespace even with --root")
    parser.add_argument("-q", "--quiet", action="store_true", help="log only warnings and errors")


def topology_from_arguments(arguments: argparse.Namespace) -> model.Topology:
    short_form = [name for name in ("bridge", "ports", "mac", "stp", "mtu", "forward_delay")
                  if getattr(arguments, name) is not None]
    if arguments.config is not None:
        if short_form:
            options = ", ".join("--" + name.replace("_", "-").replace("ports", "port") for name in short_form)
            raise InvalidInput(f"--config cannot be combined with {options}; put those settings in the file")
        return load_config(arguments.config)
    if arguments.bridge is None or not arguments.ports:
        raise InvalidInput("name the bridge and its port: --bridge br0 --port eth0 (or give --config FILE)")
    return topology_from_options(bridge=arguments.bridge, ports=arguments.ports, mac=arguments.mac,
                                 stp=arguments.stp, mtu=arguments.mtu, forward_delay=arguments.forward_delay)


def _root(arguments: argparse.Namespace) -> Path:
    root: Path = arguments.root
    if not root.is_dir():
        raise InvalidInput(f"--root {root} is not a directory")
    return root.resolve()


def _target(arguments: argparse.Namespace) -> Target:
    from bridgecfg.apply import Target

    root = _root(arguments)
    files_only = getattr(arguments, "files_only", False)
    live_only = getattr(arguments, "live_only", False)
    live = not files_only and (root == Path("/") or arguments.netns is not None or arguments.live)
    if live_only and not live:
        raise InvalidInput("--live-only needs a live target: the root /, --netns NAME, or --live")
    if arguments.netns is not None and files_only:
        raise InvalidInput("--netns names where the live part runs; it cannot be combined with --files-only")
    return Target(root=root, netns=arguments.netns, live=live, write_files=not live_only)


def _options(arguments: argparse.Namespace, target: Target) -> ApplyOptions:
    from bridgecfg.apply import ApplyOptions

    timeout = getattr(arguments, "confirm_timeout", None)
    if timeout is None:
        timeout = DEFAULT_CONFIRM_TIMEOUT if target.live else 0.0
    if timeout < 0:
        raise InvalidInput(f"--confirm-timeout {timeout:g}: use 0 (no revert) or a number of seconds")
    return ApplyOptions(confirm_timeout=timeout, live_from=arguments.live_from,
                        accept_outage=getattr(arguments, "accept_outage", False),
                        check_hosts=tuple(getattr(arguments, "check_host", [])), templates=arguments.templates)


def run_plan(arguments: argparse.Namespace) -> int:
    from bridgecfg.apply import propose, refuse_open_transactions

    topology = topology_from_arguments(arguments)
    target = _target(arguments)
    refuse_open_transactions(target.root)
    proposal = propose(topology, target, _options(arguments, target))
    if arguments.json:
        print(json.dumps(proposal.to_json(), indent=2))
    else:
        _print_proposal(proposal)
    return EXIT_OK if proposal.empty else EXIT_CHANGES_PENDING


def _print_proposal(proposal: Proposal) -> None:
    plan = proposal.files
    diff = plan.diff()
    if diff:
        sys.stdout.write(diff)
        print()
    for line in plan.summary():
        print(line)
    for note in plan.notes:
        print(f"note: {note}")
    live = proposal.live
    if live is None:
        return
    where = f"network namespace {live.snapshot.netns}" if live.snapshot.netns else "the current network namespace"
    if not live.operations:
        print(f"Live: nothing to change in {where}.")
    else:
        print(f"Live changes in {where}, in this order:")
        for number, operation in enumerate(live.operations, start=1):
            print(f"  {number:>2}. {operation.describe()}")
    if live.disagreement:
        print(f"warning: the kernel and the files disagree: {live.disagreement}; apply needs --live-from kernel "
              "or --live-from files")
    if live.network_manager:
        print(f"warning: {live.network_manager}")
    for note in live.notes:
        print(f"risk: {note}")


def run_apply(arguments: argparse.Namespace) -> int:
    from bridgecfg.apply import apply, check_live_allowed, propose, refuse_open_transactions

    topology = topology_from_arguments(arguments)
    target = _target(arguments)
    options = _options(arguments, target)
    refuse_open_transactions(target.root)
    proposal = propose(topology, target, options)
    if not arguments.json:
        _print_proposal(proposal)
    check_live_allowed(proposal, options)
    if proposal.empty:
        if arguments.json:
            print(json.dumps({"changed": False, "plan": proposal.to_json()}, indent=2))
        return EXIT_OK
    if not _confirmed(arguments, "Apply these changes?"):
        print("Declined; nothing was changed.", file=sys.stderr)
        return EXIT_ERROR
    result = apply(topology, target, options, proposal=proposal)
    if arguments.json:
        print(json.dumps({"changed": True, "transaction": result.transaction,
                          "status": result.status.value if result.status else None,
                          "deadline": result.deadline, "backup_dir": str(result.backup_dir),
                          "plan": proposal.to_json()}, indent=2))
    else:
        _print_result(result, target)
    if result.deadline is not None and sys.stdin.isatty() and not arguments.yes:
        return _ask_still_connected(result, target)
    return EXIT_OK


def _print_result(result: ApplyResult, target: Target) -> None:
    print(f"Transaction {result.transaction}: wrote {len(result.changed_files)} file(s) and made "
          f"{result.live_steps} live change(s); backups of the originals are in {result.backup_dir}.")
    if not target.live:
        print("The running system was not changed.")
    if result.deadline is not None:
        seconds = max(0.0, result.deadline - time.time())
        where = _where(target)
        print(f"The change reverts in {seconds:.0f} s unless confirmed. From a new session, run:\n"
              f"  bridgecfg confirm {result.transaction}{where}\n"
              f"or undo it now with:\n  bridgecfg rollback {result.transaction}{where}")


def _where(target: Target) -> str:
    words = ""
    if target.root != Path("/"):
        words += f" --root {target.root}"
    if target.netns:
        words += f" --netns {target.netns}"
    return words


def _ask_still_connected(result: ApplyResult, target: Target) -> int:
    from bridgecfg.revert import confirm_command, rollback_command
    from bridgecfg.transaction import TransactionStore

    store = TransactionStore(target.root)
    remaining = max(0.0, (result.deadline or 0.0) - time.time())
    print(f"Still connected? Type 'yes' within {remaining:.0f} s to keep the change: ", end="", flush=True)
    ready, _, _ = select.select([sys.stdin], [], [], remaining)
    answer = sys.stdin.readline().strip().lower() if ready else ""
    if answer in ("y", "yes"):
        confirm_command(store, result.transaction, netns=target.netns)
        print(f"Transaction {result.transaction} confirmed.")
        return EXIT_OK
    if ready and answer:
        rollback_command(store, result.transaction, netns=target.netns, force=True,
                         reason=f"declined at the prompt (answer {answer!r})")
        print(f"Declined: transaction {result.transaction} rolled back.")
        return EXIT_ERROR
    if ready:
        # End of file: the terminal went away, and with it the operator's session.
        rollback_command(store, result.transaction, netns=target.netns, force=True,
                         reason="the terminal closed before an answer")
        print(f"Transaction {result.transaction} rolled back: the terminal closed.")
        return EXIT_ROLLED_BACK
    print(f"\nNo answer; the revert timer restores the host (transaction {result.transaction}).")
    return _wait_for_revert(store, result.transaction or "")


def _wait_for_revert(store: TransactionStore, transaction: str) -> int:
    from bridgecfg.transaction import Status

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = store.load(transaction)
        if not record.status.open:
            print(f"Transaction {transaction} is {record.status.value}.")
            if record.status == Status.ROLLED_BACK:
                return EXIT_ROLLED_BACK
            return EXIT_OK if record.status == Status.CONFIRMED else EXIT_ROLLBACK_FAILED
        time.sleep(0.1)
    print(f"The revert of transaction {transaction} has not finished; check 'bridgecfg status'.", file=sys.stderr)
    return EXIT_ROLLBACK_FAILED


def _confirmed(arguments: argparse.Namespace, question: str) -> bool:
    if arguments.yes:
        return True
    if not sys.stdin.isatty():
        raise InvalidInput("no terminal to ask for confirmation; run again with --yes. Nothing was changed")
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def run_confirm(arguments: argparse.Namespace) -> int:
    from bridgecfg.revert import confirm_command
    from bridgecfg.transaction import TransactionStore

    record = confirm_command(TransactionStore(_root(arguments)), arguments.transaction, netns=arguments.netns)
    print(f"Transaction {record.id} confirmed; it will not be reverted.")
    return EXIT_OK


def run_rollback(arguments: argparse.Namespace) -> int:
    from bridgecfg.revert import rollback_command
    from bridgecfg.transaction import TransactionStore

    store = TransactionStore(_root(arguments))
    selected = store.select(arguments.transaction)
    if not _confirmed(arguments, f"Roll back transaction {selected.id} ({selected.status.value})?"):
        print("Declined; nothing was changed.", file=sys.stderr)
        return EXIT_ERROR
    record = rollback_command(store, selected.id, netns=arguments.netns, force=arguments.force)
    restored = "the snapshot and the original files are" if record.live else "the original files are"
    print(f"Transaction {record.id} rolled back: {restored} restored.")
    return EXIT_OK


def run_status(arguments: argparse.Namespace) -> int:
    from bridgecfg.transaction import TransactionStore

    records = TransactionStore(_root(arguments)).all()
    if arguments.json:
        print(json.dumps([record.model_dump(mode="json") for record in records], indent=2))
        return EXIT_OK
    if not records:
        print("No transactions.")
    for record in records:
        detail = ""
        if record.status.value == "pending" and record.deadline:
            detail = f", reverts in {max(0.0, record.deadline - time.time()):.0f} s unless confirmed"
        elif record.reason:
            detail = f": {record.reason}"
        scope = "files and live" if record.live else "files"
        print(f"{record.id}  {record.status.value:<15} {scope}, {len(record.files)} file(s){detail}")
    return EXIT_OK


def run_schema(arguments: argparse.Namespace) -> int:
    print(json.dumps(model.Topology.model_json_schema(), indent=2))
    return EXIT_OK


def run_revert_timer(arguments: argparse.Namespace) -> int:
    from bridgecfg.revert import watch_main

    return watch_main(_root(arguments), arguments.transaction, arguments.netns)


def run_boot_revert(arguments: argparse.Namespace) -> int:
    from bridgecfg.revert import boot_revert
    from bridgecfg.transaction import TransactionStore

    reverted = boot_revert(TransactionStore(_root(arguments)))
    print(f"Rolled back {len(reverted)} unconfirmed transaction(s){': ' + ', '.join(reverted) if reverted else ''}.")
    return EXIT_OK


COMMANDS: Dict[str, Callable[[argparse.Namespace], int]] = {
    "plan": run_plan, "apply": run_apply, "confirm": run_confirm, "rollback": run_rollback,
    "status": run_status, "schema": run_schema, "revert-timer": run_revert_timer, "boot-revert": run_boot_revert,
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    arguments = build_parser().parse_args(argv)
    _configure_logging(quiet=getattr(arguments, "quiet", False))
    try:
        return COMMANDS[arguments.command](arguments)
    except RolledBack as error:
        print(f"bridgecfg: {error}", file=sys.stderr)
        return EXIT_ROLLED_BACK
    except RollbackFailed as error:
        print(f"bridgecfg: error: {error}. The host needs attention: see 'bridgecfg status'", file=sys.stderr)
        return EXIT_ROLLBACK_FAILED
    except InternalError as error:
        print(f"bridgecfg: internal error, please report it: {error}", file=sys.stderr)
        return EXIT_ERROR
    except BridgecfgError as error:
        print(f"bridgecfg: error: {error}", file=sys.stderr)
        if arguments.command in ("plan", "apply") and not isinstance(error, ApplyFailed):
            print("bridgecfg: no files were changed.", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader of the output went away (for example `| head`); there is nobody to tell.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except OSError as error:
        print(f"bridgecfg: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("bridgecfg: interrupted", file=sys.stderr)
        return EXIT_ERROR


def _configure_logging(*, quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("bridgecfg: %(message)s"))
    root_logger = logging.getLogger()
    root_logger.handlers[:] = [handler]
    root_logger.setLevel(logging.WARNING if quiet else logging.INFO)


def entry_point() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry_point()

