#!/usr/bin/env python3
"""A PUT sink for `make bench`: reads every byte of each request body, then answers 201, and keeps nothing.

The upload benchmark first used nginx's DAV module, which writes the body to a temporary file and renames it:
on tmpfs that allocates and zeroes a fresh page for every 4 KiB received, on the same two cores as the
clients, and its cost swung from round to round more than the difference between the clients. This sink
reads into one reused buffer instead, so the receiving side costs little and the same for every client.

It answers only after the last body byte arrived (never early: a client must send the whole body), refuses
bodies without Content-Length (411, as S3 does), honours `Expect: 100-continue`, and prints one line per
request to stdout: `PUT <path> <bytes received> <Content-Length> <seconds from head to last byte>`.
The first stdout line names the port (`listening 127.0.0.1:PORT`); port 0 picks a free one.
Usage: put-sink.py [--port N] [--buffer BYTES]
"""
import argparse
import socket
import sys
import time


def serve(connection, buffer, view):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = connection.recv(65536)
        if not chunk or len(head) > 65536:
            return
        head += chunk
    head, _, rest = head.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path = lines[0].split(" ")[:2]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" not in headers:
        connection.sendall(b"HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        return
    expected = int(headers["content-length"])
    if headers.get("expect", "").lower() == "100-continue":
        connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    started = time.monotonic()
    received = len(rest)
    while received < expected:
        n = connection.recv_into(view, min(len(buffer), expected - received))
        if n == 0:
            break
        received += n
    seconds = time.monotonic() - started
    print(f"{method} {path} {received} {expected} {seconds:.3f}", flush=True)
    if received == expected:
        connection.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--buffer", type=int, default=4 << 20)
    args = parser.parse_args()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(16)
    print(f"listening 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    buffer = bytearray(args.buffer)
    view = memoryview(buffer)
    while True:
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(60)
            try:
                serve(connection, buffer, view)
            except (OSError, ValueError) as error:
                print(f"error {error}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
