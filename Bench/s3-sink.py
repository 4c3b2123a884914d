#!/usr/bin/env python3
"""An S3 upload sink for `make bench` (scripts/bench-bigmedia.sh): the S3 calls of a single PUT and of a multipart
upload (CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload), one thread per
connection, keeping no bytes: each body is read into a reused buffer and hashed (SHA-256) as it arrives.

Why not moto: measured here, moto takes a 128 MiB PUT at about 60 MB/s and a parallel multipart upload at about
45 MB/s with no throttle at all (nanio, 130 MB/s), so behind a 40 MB/s-per-connection cap the peer, not the
client, would decide the figure. This sink reads as fast as the cores let it, the same way for every client.

It checks what a store would refuse: a body shorter than its Content-Length (no answer), a part of an unknown
upload (404 NoSuchUpload), a completion naming a part it did not get or an ETag it did not give (400 InvalidPart),
parts out of order (400 InvalidPartOrder). Signatures are not checked (the tests' strict proxy does that).

stdout: the first line `listening 127.0.0.1:PORT`, then one line per stored object:
`OBJECT <key> <bytes> <sha256>` for a single PUT, `MULTIPART <key> <size:sha256>,<size:sha256>,...` for a
completed upload (its parts in order), so the whole object's bytes can be checked against the file.
Usage: s3-sink.py [--port N]
"""
import argparse
import hashlib
import socket
import sys
import threading
import uuid
import re

lock = threading.Lock()
uploads = {}  # upload id -> {part number: (size, sha256, etag)}


def answer(connection, status, body=b"", headers=()):
    head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    for name, value in headers:
        head += f"{name}: {value}\r\n"
    connection.sendall(head.encode() + b"\r\n" + body)


def error(connection, status, code):
    answer(connection, status, f"<Error><Code>{code}</Code><Message>{code}</Message></Error>".encode(),
           [("Content-Type", "application/xml")])


def read_body(connection, rest, length, view):
    """Reads the body; returns (bytes read, sha256 hex, the body if small)."""
    hasher = hashlib.sha256(rest)
    small = bytearray(rest) if length <= 1 << 20 else None
    received = len(rest)
    while received < length:
        n = connection.recv_into(view, min(len(view), length - received))
        if n == 0:
            break
        hasher.update(view[:n])
        if small is not None:
            small += view[:n]
        received += n
    return received, hasher.hexdigest(), bytes(small) if small is not None else b""


def serve(connection, view):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = connection.recv(65536)
        if not chunk or len(head) > 65536:
            return
        head += chunk
    head, _, rest = head.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target = lines[0].split(" ")[:2]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if method in ("PUT", "POST") and "content-length" not in headers:
        return answer(connection, "411 Length Required")
    length = int(headers.get("content-length", "0"))
    received, digest, body = read_body(connection, rest, length, view)
    if received != length:
        return
    path, _, query = target.partition("?")
    params = dict(p.partition("=")[::2] for p in query.split("&") if p)
    key = path.lstrip("/")
    if method == "PUT" and "/" not in key:
        return answer(connection, "200 OK")  # CreateBucket
    if method == "POST" and "uploads" in params:
        upload = uuid.uuid4().hex
        with lock:
            uploads[upload] = {}
        return answer(connection, "200 OK",
                      f"<InitiateMultipartUploadResult><Key>{key}</Key><UploadId>{upload}</UploadId>"
                      f"</InitiateMultipartUploadResult>".encode(), [("Content-Type", "application/xml")])
    upload = params.get("uploadId")
    if upload is not None:
        with lock:
            parts = uploads.get(upload)
        if parts is None:
            return error(connection, "404 Not Found", "NoSuchUpload")
        if method == "PUT":
            etag = f'"{uuid.uuid4().hex}"'
            with lock:
                parts[int(params["partNumber"])] = (received, digest, etag)
            return answer(connection, "200 OK", headers=[("ETag", etag)])
        if method == "DELETE":
            with lock:
                uploads.pop(upload, None)
            return answer(connection, "204 No Content")
        if method == "POST":
            named = re.findall(rb"<PartNumber>(\d+)</PartNumber>\s*<ETag>([^<]*)</ETag>", body)
            numbers = [int(n) for n, _ in named]
            if numbers != sorted(numbers):
                return error(connection, "400 Bad Request", "InvalidPartOrder")
            if not named or any(n not in parts or parts[n][2] != e.decode().replace("&quot;", '"') for n, e in
                                [(int(n), e) for n, e in named]):
                return error(connection, "400 Bad Request", "InvalidPart")
            with lock:
                uploads.pop(upload, None)
            listing = ",".join(f"{parts[n][0]}:{parts[n][1]}" for n in numbers)
            print(f"MULTIPART {key} {listing}", flush=True)
            return answer(connection, "200 OK",
                          f'<CompleteMultipartUploadResult><Key>{key}</Key><ETag>"{uuid.uuid4().hex}-{len(numbers)}"'
                          f"</ETag></CompleteMultipartUploadResult>".encode(), [("Content-Type", "application/xml")])
    if method == "PUT":
        print(f"OBJECT {key} {received} {digest}", flush=True)
        return answer(connection, "200 OK", headers=[("ETag", f'"{uuid.uuid4().hex}"')])
    return error(connection, "405 Method Not Allowed", "MethodNotAllowed")


def handle(connection):
    view = memoryview(bytearray(1 << 20))
    with connection:
        connection.settimeout(120)
        try:
            serve(connection, view)
        except (OSError, ValueError, KeyError) as problem:
            print(f"error {problem}", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(64)
    print(f"listening 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=handle, args=(connection,), daemon=True).start()


if __name__ == "__main__":
    main()
