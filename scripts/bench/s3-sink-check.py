# scripts/bench-bigmedia.sh: checks an object Bench/s3-sink.py reported against the file that was uploaded, byte for
# byte by SHA-256 (a multipart object part by part, in order, covering the whole file). Exits 1 on a mismatch.
# Arguments: the file, the sink's line for the object.
import hashlib, os, sys
path, line = sys.argv[1], sys.argv[2].split()
size = os.path.getsize(path)
with open(path, "rb") as f:
    if line[0] == "OBJECT":
        pieces = [(int(line[2]), line[3])]
    elif line[0] == "MULTIPART":
        pieces = [(int(s), d) for s, d in (p.split(":") for p in line[2].split(","))]
    else:
        sys.exit(f"not an object line: {' '.join(line)}")
    if sum(s for s, _ in pieces) != size:
        sys.exit(f"{line[1]}: {sum(s for s, _ in pieces)} bytes stored, the file has {size}")
    for number, (length, digest) in enumerate(pieces, 1):
        hasher, left = hashlib.sha256(), length
        while left:
            chunk = f.read(min(left, 1 << 22))
            hasher.update(chunk)
            left -= len(chunk)
        if hasher.hexdigest() != digest:
            sys.exit(f"{line[1]}: part {number} differs from the file's bytes")
