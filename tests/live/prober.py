"""Send numbered UDP probes at a fixed interval on several streams and count losses.

Usage: prober.py INTERVAL_SECONDS NAME,SOURCE,DESTINATION,PORT [...]

Each stream binds its source address and sends one datagram per interval to an
echo responder. Once every stream has had one reply (neighbours resolved), the
script prints `ready` and starts counting. A line `stop N` on standard input makes
it send N more probes per stream, wait 0.5 s for late replies, and print one JSON
object: per stream, the probes sent and answered, the lost count, send errors, the
longest gap in milliseconds between the send times of two consecutive answered
probes, and the send times of the first ten lost probes. It gives up with exit status 2 if no reply comes within 10 s.
"""

from __future__ import annotations

import json
import selectors
import socket
import struct
import sys
import time
from dataclasses import dataclass, field

GRACE_SECONDS = 0.5
WARMUP_TIMEOUT = 10.0
HEADER = struct.Struct("!I")


@dataclass
class Stream:
    name: str
    sock: socket.socket
    next_seq: int = 0
    first_counted: int = -1
    send_times: dict[int, float] = field(default_factory=dict)
    answered: set[int] = field(default_factory=set)
    send_errors: int = 0

    def send(self, now: float) -> None:
        seq = self.next_seq
        self.next_seq += 1
        self.send_times[seq] = now
        try:
            self.sock.send(HEADER.pack(seq) + b"bridgecfg-probe")
        except OSError:
            self.send_errors += 1

    def receive(self) -> None:
        while True:
            try:
                payload = self.sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # An ICMP error queued on the socket; the probe counts as lost.
                continue
            if len(payload) >= HEADER.size:
                self.answered.add(HEADER.unpack_from(payload)[0])

    def report(self) -> dict[str, object]:
        counted = [seq for seq in range(self.first_counted, self.next_seq)]
        answered = [seq for seq in counted if seq in self.answered]
        # Lost probes at either end of the counted range are part of a gap too.
        edges = [self.send_times[counted[0]]] + [self.send_times[seq] for seq in answered]
        edges.append(self.send_times[counted[-1]])
        gap = max(later - earlier for earlier, later in zip(edges, edges[1:]))
        return {
            "sent": len(counted),
            "answered": len(answered),
            "lost": len(counted) - len(answered),
            "send_errors": self.send_errors,
            "max_gap_ms": round(gap * 1000, 3),
            # Monotonic send times of the first lost probes, to line them up with
            # the steps of a change (the clock is shared by every namespace).
            "first_lost_at": [self.send_times[seq] for seq in counted if seq not in self.answered][:10],
        }


def open_stream(spec: str) -> Stream:
    name, source, destination, port = spec.split(",")
    family = socket.AF_INET6 if ":" in destination else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.connect((destination, int(port)))
    sock.setblocking(False)
    return Stream(name, sock)


def run(interval: float, streams: list[Stream]) -> dict[str, object]:
    selector = selectors.DefaultSelector()
    for stream in streams:
        selector.register(stream.sock, selectors.EVENT_READ, stream)
    selector.register(sys.stdin, selectors.EVENT_READ, None)
    ready = False
    remaining = -1
    started = time.monotonic()
    next_tick = started
    while remaining != 0:
        now = time.monotonic()
        if now >= next_tick:
            for stream in streams:
                stream.send(now)
            next_tick += interval
            if remaining > 0:
                remaining -= 1
        for key, _ in selector.select(timeout=max(0.0, next_tick - time.monotonic())):
            if key.data is not None:
                key.data.receive()
            else:
                remaining = parse_command(sys.stdin.readline())
        if not ready and all(stream.answered for stream in streams):
            ready = True
            for stream in streams:
                stream.first_counted = stream.next_seq
            print("ready", flush=True)
        if not ready and time.monotonic() - started > WARMUP_TIMEOUT:
            silent = [stream.name for stream in streams if not stream.answered]
            print(f"no reply on {silent}", file=sys.stderr)
            sys.exit(2)
    selector.unregister(sys.stdin)
    drain(selector, GRACE_SECONDS)
    return {stream.name: stream.report() for stream in streams}


def parse_command(line: str) -> int:
    words = line.split()
    if len(words) == 2 and words[0] == "stop":
        return int(words[1])
    if not words:
        # Standard input closed: the parent is gone, so stop at once.
        return 1
    raise SystemExit(f"unknown command {line!r}: use `stop N`")


def drain(selector: selectors.BaseSelector, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
            key.data.receive()


def main() -> None:
    interval = float(sys.argv[1])
    streams = [open_stream(spec) for spec in sys.argv[2:]]
    print(json.dumps(run(interval, streams)), flush=True)


if __name__ == "__main__":
    main()
