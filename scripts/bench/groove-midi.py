#!/usr/bin/env python3
"""scripts/bench-analytics.sh: writes a MIDI groove (120 BPM, drums, bass, piano chords, 12 bars) to argv[1]
with the standard library only (a format-0 standard MIDI file, 480 ticks a beat)."""
import struct
import sys


def variable(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.insert(0, (n & 0x7F) | 0x80)
        n >>= 7
    return bytes(out)


events = [(0, 0, bytes([0xFF, 0x51, 0x03]) + (500000).to_bytes(3, "big")),
          (0, 1, bytes([0xC0, 0])), (0, 1, bytes([0xC1, 33]))]
roots = [48, 45, 41, 43]
for bar in range(12):
    t = bar * 4 * 480
    root = roots[bar % 4]
    for p in (0, 4, 7):
        events.append((t, 3, bytes([0x90, root + 12 + p, 70])))
        events.append((t + 1870, 2, bytes([0x80, root + 12 + p, 0])))
    for beat in range(4):
        b = t + beat * 480
        events += [(b, 3, bytes([0x91, root - 12, 90])), (b + 380, 2, bytes([0x81, root - 12, 0])),
                   (b, 3, bytes([0x99, 36 if beat % 2 == 0 else 38, 110])), (b + 90, 2, bytes([0x89, 36 if beat % 2 == 0 else 38, 0])),
                   (b, 3, bytes([0x99, 42, 70])), (b + 45, 2, bytes([0x89, 42, 0]))]
events.sort(key=lambda e: (e[0], e[1]))
track = b""
last = 0
for tick, _, data in events:
    track += variable(tick - last) + data
    last = tick
track += b"\x00\xff\x2f\x00"
with open(sys.argv[1], "wb") as f:
    f.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(track)) + track)
