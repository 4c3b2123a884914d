# scripts/bench-media.sh: the medians over the rounds. Arguments: seconds of media, cores; stdin: one line per
# round, "analyze_ferry analyze_bare wav_ferry wav_bare mp3_ferry mp3_bare transcode_ferry transcode_bare".
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
m = [statistics.median(r[i] for r in rows) for i in range(8)]
s = float(sys.argv[1])
print()
print(f'Medians over {len(rows)} rounds, {sys.argv[1]} s of 48 kHz stereo, {sys.argv[2]} cores:')
for name, (f, b) in [('analyze', m[0:2]), ('enhance to WAV', m[2:4]), ('enhance to MP3', m[4:6]), ('transcode to MP3', m[6:8])]:
    print(f'- {name}: Ferry {s / f:.0f}x realtime, bare ffmpeg {s / b:.0f}x; Ferry / bare time {f / b:.2f} (overhead {100 * (f / b - 1):+.0f}%)')
