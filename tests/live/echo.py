"""UDP and TCP echo responders for the live tests; run inside the LAN namespace.

Usage: echo.py UDP_PORT TCP_PORT ADDRESS... A UDP socket is bound to each ADDRESS,
so every reply leaves from the address the probe was sent to (a socket bound to
the wildcard address would reply from the outgoing device's primary address, and
a connected prober would drop that). TCP listens on every address. The script prints `ready` once both sockets listen, and exits when
its standard input closes, so it cannot outlive the test that started it.
"""

from __future__ import annotations

import socket
import sys
import threading


def serve_udp(address: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    server = socket.socket(family, socket.SOCK_DGRAM)
    server.bind((address, port))
    threading.Thread(target=_echo_datagrams, args=(server,), daemon=True).start()


def _echo_datagrams(server: socket.socket) -> None:
    while True:
        payload, sender = server.recvfrom(2048)
        server.sendto(payload, sender)


def serve_tcp(port: int) -> None:
    server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("::", port))
    server.listen(16)
    threading.Thread(target=_accept_connections, args=(server,), daemon=True).start()


def _accept_connections(server: socket.socket) -> None:
    while True:
        connection, _ = server.accept()
        threading.Thread(target=_echo_stream, args=(connection,), daemon=True).start()


def _echo_stream(connection: socket.socket) -> None:
    with connection:
        while True:
            data = connection.recv(4096)
            if not data:
                return
            connection.sendall(data)


def main() -> None:
    for address in sys.argv[3:]:
        serve_udp(address, int(sys.argv[1]))
    serve_tcp(int(sys.argv[2]))
    print("ready", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
