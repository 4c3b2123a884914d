# scripts/bench-transfer.sh: runs a command; prints "<wall seconds> <peak RSS KiB> <CPU seconds> <its stdout>".
# Arguments: the command and its arguments.
import resource, subprocess, sys, time
start = time.monotonic()
out = subprocess.run(sys.argv[1:], check=True, stdout=subprocess.PIPE, text=True).stdout
elapsed = time.monotonic() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{elapsed:.3f} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime:.3f} {out.strip()}")
