"""The bridgecfg command line: plan, apply and schema.

Only this module turns exceptions into messages and exit codes.
Exit codes: plan 0 (nothing to do), 2 (changes pending), 1 (error or refusal);
apply 0 (done), 1 (error, refusal or declined). Usage errors exit 1 too, because 2
means "changes pending".
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn, Optional, Sequence

from bridgecfg import __version__, model
from bridgecfg.config import load_config, topology_from_options
from bridgecfg.errors import ApplyFailed, BridgecfgError, InternalError, InvalidInput, RollbackFailed
from bridgecfg.plan import Plan, make_plan

log = logging.getLogger("bridgecfg")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES_PENDING = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit 1: exit 2 means "changes pending" here."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bridgecfg", description="Turn a NIC's ifcfg profile into a port of a Linux bridge, "
                                                   "with a plan first and backups of every file changed.")
    parser.add_argument("--version", action="version", version=f"bridgecfg {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    plan = commands.add_parser("plan", help="show the file changes without making them",
                               description="Print a unified diff of every file that apply would create, change or "
                                           "remove, then a summary. Changes nothing. Exit 0: nothing to do, "
                                           "2: changes pending, 1: error.")
    _add_topology_options(plan)
    plan.add_argument("--json", action="store_true", help="print the plan as one JSON document")

    apply = commands.add_parser("apply", help="write the planned file changes, with backups",
                                description="Back up and rewrite the files that plan shows. Exit 0: done, "
                                            "1: error, refusal or declined.")
    _add_topology_options(apply)
    apply.add_argument("--yes", action="store_true", help="apply without asking for confirmation "
                                                          "(required when there is no terminal)")
    apply.add_argument("--files-only", action="store_true", help="write the files and leave the running "
                                                                 "system unchanged")
    apply.add_argument("--json", action="store_true", help="print the plan and the result as JSON")

    commands.add_parser("schema", help="print the JSON schema of --config files",
                        description="Print the JSON schema of the topology that --config files follow, for "
                                    "editors and validators.")
    return parser


def _add_topology_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("desired topology (either --config, or --bridge with --port)")
    source.add_argument("--config", type=Path, metavar="FILE", help="YAML or JSON file with one or more bridges "
                                                                    "(see 'bridgecfg schema')")
    source.add_argument("--bridge", metavar="BR", help="name of the bridge to create, at most 15 bytes")
    source.add_argument("--port", dest="ports", action="extend", nargs="+", metavar="NIC",
                        help="interface that becomes a port of the bridge; repeat for several ports")
    source.add_argument("--mac", metavar="POLICY", help="bridge MAC: 'none' (default: no MAC in the bridge "
                                                       "file), 'inherit' (the port's MAC), or an address")
    source.add_argument("--stp", action=argparse.BooleanOptionalAction, default=None,
                        help="turn the spanning tree protocol on (default off)")
    source.add_argument("--forward-delay", type=int, metavar="SECONDS",
                        help="STP forward delay in seconds, 2 to 30 with STP on (default 0 with STP off)")
    source.add_argument("--mtu", type=int, metavar="BYTES", help="bridge MTU in bytes (default: the port's MTU)")
    parser.add_argument("--root", type=Path, default=Path("/"), metavar="DIR",
                        help="filesystem root that holds /etc (default /)")
    parser.add_argument("--templates", type=Path, metavar="DIR",
                        help="directory with edited copies of the jinja2 templates (default: the bundled ones)")
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


def _check_root(root: Path) -> Path:
    if not root.is_dir():
        raise InvalidInput(f"--root {root} is not a directory")
    return root.resolve()


def run_plan(arguments: argparse.Namespace) -> int:
    topology = topology_from_arguments(arguments)
    plan = make_plan(_check_root(arguments.root), topology, templates=arguments.templates)
    if arguments.json:
        print(plan.to_json_text())
    else:
        _print_plan(plan)
    return EXIT_OK if plan.empty else EXIT_CHANGES_PENDING


def _print_plan(plan: Plan) -> None:
    diff = plan.diff()
    if diff:
        sys.stdout.write(diff)
        print()
    for line in plan.summary():
        print(line)
    for note in plan.notes:
        print(f"note: {note}")


def run_apply(arguments: argparse.Namespace) -> int:
    from bridgecfg import files  # Imported here: plan must not need the writer.

    topology = topology_from_arguments(arguments)
    root = _check_root(arguments.root)
    if root == Path("/") and not arguments.files_only:
        raise InvalidInput("on the root filesystem, apply changes files only for now: add --files-only. The "
                           "running system is not changed; bring the bridge up with ifup or nmcli afterwards")
    plan = make_plan(root, topology, templates=arguments.templates)
    if not arguments.json:
        _print_plan(plan)
    if plan.empty:
        if arguments.json:
            print(json.dumps({"changed": False, "plan": plan.to_json()}, indent=2))
        return EXIT_OK
    if not _confirmed(arguments, "Write these changes?"):
        print("Nothing was changed.", file=sys.stderr)
        return EXIT_ERROR

    transaction = files.new_transaction_id()
    with files.apply_lock(root):
        written = files.write_plan(plan, transaction=transaction)
    if arguments.json:
        print(json.dumps({"changed": True, "transaction": transaction, "backups": written.backups,
                          "plan": plan.to_json()}, indent=2))
    else:
        print(f"Transaction {transaction}: wrote {len(written.changed)} file(s); backups of the originals are in "
              f"{written.backup_dir}")
        print("The running system was not changed.")
    return EXIT_OK


def _confirmed(arguments: argparse.Namespace, question: str) -> bool:
    if arguments.yes:
        return True
    if not sys.stdin.isatty():
        raise InvalidInput("no terminal to ask for confirmation; run again with --yes to apply. Nothing was changed")
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def run_schema(arguments: argparse.Namespace) -> int:
    print(json.dumps(model.Topology.model_json_schema(), indent=2))
    return EXIT_OK


COMMANDS = {"plan": run_plan, "apply": run_apply, "schema": run_schema}


def main(argv: Optional[Sequence[str]] = None) -> int:
    arguments = build_parser().parse_args(argv)
    _configure_logging(quiet=getattr(arguments, "quiet", False))
    try:
        return COMMANDS[arguments.command](arguments)
    except InternalError as error:
        print(f"bridgecfg: internal error, please report it: {error}", file=sys.stderr)
        return EXIT_ERROR
    except BridgecfgError as error:
        print(f"bridgecfg: error: {error}", file=sys.stderr)
        if arguments.command in ("plan", "apply") and not isinstance(error, (ApplyFailed, RollbackFailed)):
            print("bridgecfg: no files were changed.", file=sys.stderr)
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

