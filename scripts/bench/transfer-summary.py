# scripts/bench-transfer.sh: the medians over the rounds, per direction. Arguments: Ferry's peak RSS in KiB,
# then one "direction:curl_s:ferry_s:curl_cpu_s:ferry_cpu_s" per transfer.
import statistics, sys
rows = [r.split(":") for r in sys.argv[2:]]
for direction in ("download", "upload"):
    mine = [[float(x) for x in r[1:]] for r in rows if r[0] == direction]
    ratios = [c / f for c, f, _, _ in mine]
    cpu = [cc / fc for _, _, cc, fc in mine]
    print(f"- {direction}: Ferry / curl throughput median {statistics.median(ratios):.2f}x"
          f" (range {min(ratios):.2f}-{max(ratios):.2f}); CPU seconds median curl {statistics.median(r[2] for r in mine):.3f},"
          f" Ferry {statistics.median(r[3] for r in mine):.3f} (curl's / Ferry's: {statistics.median(cpu):.2f}x)")
print(f"- Ferry's peak RSS: {int(sys.argv[1]) // 1024} MiB")
