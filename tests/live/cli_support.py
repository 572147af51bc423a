"""A host with eth0, a LAN and a file root, for tests that run the bridgecfg command line.

`CliHost.build` creates two namespaces under random names: "host", whose eth0 carries
IPv4 and IPv6 addresses, default routes, a route in table 100 and a rule, and "lan",
which has the gateways and the echo responders. The file root under a temporary
folder holds an ifcfg-eth0 that configures the same addresses, so that `plan` sees no
disagreement between the kernel and the files.

Every command of bridgecfg runs as a subprocess with `--root DIR --netns NS`, or inside
`ip netns exec NS`. Each helper checks first that NS is not the root namespace, and
`--root /` is never passed. Only documentation prefixes are used.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from topology import (
    ECHO_PORT,
    GATEWAY,
    GATEWAY6,
    GUEST_ADDRESS,
    HOST_ADDRESS,
    HOST_ADDRESS6,
    HOST_SECONDARY,
    REMOTE,
    REMOTE6,
    TCP_ECHO_PORT,
    Namespace,
    NamespaceError,
    python_environment,
)

from bridgecfg.live.netlink import is_root_namespace, open_netlink
from bridgecfg.live.snapshot import capture
from bridgecfg.live.state import KernelSnapshot

SCRIPTS = Path("etc/sysconfig/network-scripts")
STATE_DIR = Path("var/lib/bridgecfg")
BRIDGE = "br0"
PORT = "eth0"
ROUTED_PREFIX = "198.51.100.0/24"
ROUTED_TABLE = 100
RULE_PRIORITY = 1000
# How long a bridgecfg subprocess may run before the test gives up on it.
COMMAND_TIMEOUT = 60.0

IFCFG_ETH0 = f"""\
# Uplink of the test host
DEVICE={PORT}
TYPE=Ethernet
ONBOOT=yes
NM_CONTROLLED=no
BOOTPROTO=none
IPADDR={HOST_ADDRESS}
PREFIX=24
IPADDR1={HOST_SECONDARY}
PREFIX1=24
GATEWAY={GATEWAY}
IPV6INIT=yes
IPV6_AUTOCONF=no
IPV6ADDR={HOST_ADDRESS6}/64
IPV6_DEFAULTGW={GATEWAY6}
"""

NETWORK = """\
NETWORKING=yes
HOSTNAME=host.example.com
"""

# Probe streams over the moved addresses: name, source address, destination address.
PROBE_STREAMS = (
    ("ipv4-on-link", HOST_ADDRESS, GATEWAY),
    ("ipv4-default-route", HOST_ADDRESS, REMOTE),
    ("ipv4-secondary", HOST_SECONDARY, GATEWAY),
    ("ipv6-on-link", HOST_ADDRESS6, GATEWAY6),
    ("ipv6-default-route", HOST_ADDRESS6, REMOTE6),
)

# A TCP listener for the LAN namespace that accepts one connection and then stops
# listening, so a reachability check passes before the cutover and fails after it.
ONE_CONNECTION_LISTENER = """
import socket, sys
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(1)
print("ready", flush=True)
connection, _ = server.accept()
connection.close()
server.close()
print("closed", flush=True)
sys.stdin.read()
"""


def reject_root_namespace(netns: str) -> None:
    """Raise unless `netns` is a named namespace other than the root one."""
    if not netns or is_root_namespace(netns):
        raise NamespaceError(f"{netns!r} is the root network namespace; the live tests act only in namespaces "
                             "they created")


@dataclass
class CliHost:
    """The host and LAN namespaces, the file root, and the processes the test started."""

    host: Namespace
    lan: Namespace
    root: Path
    sessions: List["subprocess.Popen[Any]"] = field(default_factory=list)

    @classmethod
    def build(cls, created: List[Namespace], root: Path) -> "CliHost":
        host = Namespace.create("host")
        created.append(host)
        lan = Namespace.create("lan")
        created.append(lan)
        reject_root_namespace(host.name)
        reject_root_namespace(lan.name)
        cli_host = cls(host, lan, root)
        cli_host._wire()
        cli_host._configure_lan()
        cli_host._configure_host()
        cli_host._write_files()
        return cli_host

    @property
    def netns(self) -> str:
        return self.host.name

    def _wire(self) -> None:
        # The veth pair is created inside the host namespace and its peer goes straight
        # to the LAN namespace, so no end ever exists in the root namespace.
        self.host.ip("link", "add", PORT, "type", "veth", "peer", "name", "lan0", "netns", self.lan.name)

    def _configure_lan(self) -> None:
        lan = self.lan
        lan.ip("link", "set", "lo", "up")
        lan.ip("addr", "add", f"{REMOTE}/32", "dev", "lo")
        lan.ip("addr", "add", f"{REMOTE6}/128", "dev", "lo")
        lan.ip("link", "set", "lan0", "up")
        lan.ip("addr", "add", f"{GATEWAY}/24", "dev", "lan0")
        lan.ip("addr", "add", f"{GATEWAY6}/64", "dev", "lan0", "nodad")
        responder = lan.python("echo.py", str(ECHO_PORT), str(TCP_ECHO_PORT), GATEWAY, GATEWAY6, REMOTE, REMOTE6)
        assert responder.stdout is not None
        line = responder.stdout.readline().strip()
        if line != "ready":
            raise NamespaceError(f"echo responder did not start: {line!r}")

    def _configure_host(self) -> None:
        host = self.host
        host.ip("link", "set", "lo", "up")
        host.ip("link", "set", PORT, "up")
        host.ip("addr", "add", f"{HOST_ADDRESS}/24", "dev", PORT)
        host.ip("addr", "add", f"{HOST_SECONDARY}/24", "dev", PORT)
        host.ip("addr", "add", f"{HOST_ADDRESS6}/64", "dev", PORT, "nodad")
        host.ip("route", "add", "default", "via", GATEWAY)
        host.ip("-6", "route", "add", "default", "via", GATEWAY6)
        host.ip("route", "add", ROUTED_PREFIX, "via", GATEWAY, "table", str(ROUTED_TABLE), "proto", "static")
        host.ip("rule", "add", "iif", PORT, "table", str(ROUTED_TABLE), "pref", str(RULE_PRIORITY))

    def _write_files(self) -> None:
        scripts = self.root / SCRIPTS
        scripts.mkdir(parents=True)
        (scripts / f"ifcfg-{PORT}").write_text(IFCFG_ETH0, encoding="utf-8")
        (self.root / "etc/sysconfig/network").write_text(NETWORK, encoding="utf-8")

    # --- Running bridgecfg -------------------------------------------------------------

    def command(self, verb: str, *arguments: str, topology: bool = True) -> List[str]:
        """Return the command line of `bridgecfg VERB` against this host's root and namespace."""
        reject_root_namespace(self.netns)
        if self.root.resolve() == Path("/"):
            raise NamespaceError("the file root of a live test must be a temporary folder, not /")
        words = [sys.executable, "-m", "bridgecfg", verb]
        if topology:
            words += ["--bridge", BRIDGE, "--port", PORT]
        return words + ["--root", str(self.root), "--netns", self.netns, *arguments]

    def bridgecfg(self, verb: str, *arguments: str, topology: bool = True,
                  env: Optional[Dict[str, str]] = None) -> "subprocess.CompletedProcess[str]":
        """Run `bridgecfg VERB ARGUMENTS --root ROOT --netns HOST` and return the finished process."""
        environment = python_environment()
        environment.update(env or {})
        return subprocess.run(self.command(verb, *arguments, topology=topology), capture_output=True, text=True,
                              env=environment, timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL)

    def inside(self, *command: str, env: Optional[Dict[str, str]] = None) -> "subprocess.CompletedProcess[str]":
        """Run `command` inside the host namespace through `ip netns exec`."""
        reject_root_namespace(self.netns)
        environment = python_environment()
        environment.update(env or {})
        return subprocess.run(["ip", "netns", "exec", self.netns, *command], capture_output=True, text=True,
                              env=environment, timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL)

    def plan_json(self, *arguments: str) -> Dict[str, Any]:
        result = self.bridgecfg("plan", "--json", *arguments)
        if result.returncode not in (0, 2):
            raise AssertionError(f"plan failed with {result.returncode}: {result.stderr}")
        document: Dict[str, Any] = json.loads(result.stdout)
        return document

    # --- Reading what bridgecfg left -----------------------------------------------------

    def capture(self) -> KernelSnapshot:
        """Capture eth0 and br0 in the host namespace."""
        reject_root_namespace(self.netns)
        with contextlib.closing(open_netlink(self.netns)) as ipr:
            return capture(ipr, ports=[PORT], bridges=[BRIDGE], netns=self.netns)

    def files(self) -> Dict[str, Tuple[bytes, int]]:
        """Return the bytes and mode of every file under the root, except bridgecfg's state."""
        found = {}
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root)
            if path.is_file() and not relative.parts[:3] == STATE_DIR.parts:
                found[str(relative)] = (path.read_bytes(), path.stat().st_mode & 0o7777)
        return found

    def transactions(self) -> List[Dict[str, Any]]:
        """Return every transaction record, in the order `bridgecfg status` lists them."""
        result = self.bridgecfg("status", "--json", topology=False)
        if result.returncode != 0:
            raise AssertionError(f"status failed with {result.returncode}: {result.stderr}")
        records: List[Dict[str, Any]] = json.loads(result.stdout)
        return records

    def transaction_folders(self) -> List[Path]:
        return sorted((self.root / STATE_DIR / "transactions").glob("*"))

    def records(self) -> List[Dict[str, Any]]:
        """Read every record.json directly, without running bridgecfg."""
        found = []
        for path in sorted((self.root / STATE_DIR / "transactions").glob("*/record.json")):
            with contextlib.suppress(ValueError, OSError):
                found.append(json.loads(path.read_text(encoding="utf-8")))
        return found

    def wait_for_status(self, status: str, *, timeout: float) -> Dict[str, Any]:
        """Poll the records until one reaches `status`; return it, or raise after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        seen: List[str] = []
        while time.monotonic() < deadline:
            records = self.records()
            seen = [record["status"] for record in records]
            for record in records:
                if record["status"] == status:
                    return record
            time.sleep(0.02)
        raise AssertionError(f"no transaction reached {status} within {timeout:g} s; statuses: {seen}")

    # --- Cleaning up -------------------------------------------------------------------

    def start_session(self, verb: str, *arguments: str, **popen: Any) -> "subprocess.Popen[Any]":
        """Start bridgecfg as the leader of a new session, as an SSH login shell would run it."""
        environment = python_environment()
        environment.update(popen.pop("env", {}))
        process = subprocess.Popen(self.command(verb, *arguments), start_new_session=True, env=environment,
                                   **popen)
        self.sessions.append(process)
        return process

    def stop_leftovers(self) -> None:
        """Kill the sessions the test started and every revert timer a transaction left running."""
        for process in self.sessions:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        for record in self.records():
            kill_timer(record.get("timer_pid"))


def kill_timer(pid: Optional[int]) -> None:
    """SIGKILL a revert timer process, if that pid still runs bridgecfg's revert-timer."""
    if not pid:
        return
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return
    if b"revert-timer" not in command:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def process_gone(pid: int) -> bool:
    """Tell whether `pid` has exited (a zombie counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def poll(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Wait until `condition()` is true; raise AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@contextlib.contextmanager
def one_connection_listener(lan: Namespace, address: str, port: int) -> Iterator["subprocess.Popen[str]"]:
    """Run a TCP listener in `lan` that closes after its first accepted connection."""
    process = lan.spawn(sys.executable, "-c", ONE_CONNECTION_LISTENER, address, str(port))
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != "ready":
        raise NamespaceError(f"one-connection listener did not start: {line!r}")
    yield process


def attach_guest(created: List[Namespace], host: Namespace, bridge: str) -> Namespace:
    """Create a guest namespace whose eth0 is wired to a port `vguest` of `bridge` in `host`."""
    guest = Namespace.create("guest")
    created.append(guest)
    reject_root_namespace(guest.name)
    guest.ip("link", "add", "eth0", "type", "veth", "peer", "name", "vguest", "netns", host.name)
    guest.ip("link", "set", "lo", "up")
    guest.ip("link", "set", "eth0", "up")
    guest.ip("addr", "add", f"{GUEST_ADDRESS}/24", "dev", "eth0")
    host.ip("link", "set", "vguest", "master", bridge)
    host.ip("link", "set", "vguest", "up")
    return guest


def udp_echo(namespace: Namespace, destination: str, port: int, payload: str) -> str:
    """Send one UDP datagram from `namespace` and return the echoed text (empty on timeout)."""
    script = (
        "import socket, sys\n"
        "family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
        "s = socket.socket(family, socket.SOCK_DGRAM)\n"
        "s.settimeout(0.5)\n"
        "s.connect((sys.argv[1], int(sys.argv[2])))\n"
        "for attempt in range(10):\n"
        "    s.send(sys.argv[3].encode())\n"
        "    try:\n"
        "        print(s.recv(2048).decode()); break\n"
        "    except (socket.timeout, ConnectionRefusedError):\n"
        "        pass\n"
    )
    return namespace.run(sys.executable, "-c", script, destination, str(port), payload).strip()


def read_until(descriptor: int, marker: bytes, *, timeout: float) -> bytes:
    """Read from a pseudo-terminal or pipe until `marker` shows up; return what was read."""
    import select

    received = b""
    deadline = time.monotonic() + timeout
    while marker not in received:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out waiting for {marker!r}; output so far:\n{received.decode(errors='replace')}")
        ready, _, _ = select.select([descriptor], [], [], remaining)
        if ready:
            try:
                chunk = os.read(descriptor, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"output ended before {marker!r}:\n{received.decode(errors='replace')}")
            received += chunk
    return received

