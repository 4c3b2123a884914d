# scripts/bench-cluster.sh: the CPU cells of a table row, "nodes' CPU s | PostgreSQL's | machine busy" (Markdown).
# Argument: the JSON of `cluster.py delta`.
import json, sys
d = json.loads(sys.argv[1])
print(' / '.join(f'{s:.1f}' for s, _ in d['nodes']), '—' if d['pg'] is None else f"{d['pg']:.1f}",
      f"{d['busy']:.0f}% ({d['iowait']:.0f}% I/O wait)", sep=' | ')
