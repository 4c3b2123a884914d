#!/usr/bin/env python3
# Part of `make bench` (scripts/bench-bigmedia.sh): a TCP proxy that caps every connection at a rate, the way one
# connection to real object storage carries only so much (issue 20). Each direction of each connection gets its
# own token bucket of --rate bytes a second (a burst of at most 256 KiB), so N connections carry at most N times
# the rate, as they would against S3. Python standard library only.
#
#   throttle-proxy.py --listen 127.0.0.1:0 --upstream 127.0.0.1:PORT --rate 40000000
#
# The first stdout line is "listening 127.0.0.1:PORT"; then one line per closed connection:
# "connection <id> up <bytes> down <bytes> <seconds> <most connections open at once so far>".
import argparse, socket, sys, threading, time

CHUNK = 64 * 1024
BURST = 256 * 1024


class Bucket:
    """A token bucket: take(n) returns once n more bytes fit under the rate."""

    def __init__(self, rate):
        self.rate, self.tokens, self.last = rate, BURST, time.monotonic()

    def take(self, n):
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.last) * self.rate)
        self.last = now
        self.tokens -= n
        if self.tokens < 0:
            time.sleep(-self.tokens / self.rate)


def pump(source, sink, rate, counter, index):
    bucket, buffer = Bucket(rate), bytearray(CHUNK)
    view = memoryview(buffer)
    try:
        while True:
            n = source.recv_into(buffer)
            if n == 0:
                break
            bucket.take(n)
            sink.sendall(view[:n])
            counter[index] += n
    except OSError:
        pass
    finally:
        # Pass the end on: the other side sees EOF (or the reset) as it would without the proxy.
        for s, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--rate", type=float, required=True, help="bytes a second, per connection and direction")
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    up_host, up_port = args.upstream.rsplit(":", 1)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, int(port)))
    server.listen(256)
    print(f"listening {host}:{server.getsockname()[1]}", flush=True)
    lock = threading.Lock()
    state = {"open": 0, "most": 0, "next": 0}

    def serve(client):
        with lock:
            state["open"] += 1
            state["most"] = max(state["most"], state["open"])
            state["next"] += 1
            ident = state["next"]
        started = time.monotonic()
        counter = [0, 0]
        try:
            upstream = socket.create_connection((up_host, int(up_port)))
        except OSError:
            client.close()
            with lock:
                state["open"] -= 1
            return
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        back = threading.Thread(target=pump, args=(upstream, client, args.rate, counter, 1), daemon=True)
        back.start()
        pump(client, upstream, args.rate, counter, 0)
        back.join()
        client.close()
        upstream.close()
        with lock:
            state["open"] -= 1
            most = state["most"]
        print(f"connection {ident} up {counter[0]} down {counter[1]} {time.monotonic() - started:.3f} {most}", flush=True)

    while True:
        client, _ = server.accept()
        threading.Thread(target=serve, args=(client,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
