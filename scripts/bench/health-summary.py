# scripts/bench.sh: the median, mean and range of the rounds' Ferry / nginx ratios.
# Arguments: the requests/s ratios, space-separated; the CPU-efficiency ratios, space-separated.
import statistics, sys
r = [float(x) for x in sys.argv[1].split()]
c = [float(x) for x in sys.argv[2].split()]
print(f"Ferry / nginx requests/s: median {statistics.median(r):.2f}x, mean {statistics.mean(r):.2f}x, range {min(r):.2f}-{max(r):.2f}")
print(f"Ferry / nginx CPU efficiency (nginx CPU per request / Ferry's): median {statistics.median(c):.2f}x")
