# scripts/bench-transfer.sh: checks that the PUT sink (Bench/put-sink.py) answers only after the whole body
# arrived, so a client that stopped early could not look fast. Argument: the sink's port.
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"PUT /check HTTP/1.1\r\nHost: sink\r\nContent-Length: 1000\r\n\r\n" + b"x" * 999)
s.settimeout(0.5)
try:
    early = s.recv(64)
except socket.timeout:
    early = None
s.settimeout(5)
s.sendall(b"x")
late = s.recv(64)
if early is not None or not late.startswith(b"HTTP/1.1 201"):
    sys.exit(f"the PUT sink answered before the end of the body: {early!r}, then {late!r}")
