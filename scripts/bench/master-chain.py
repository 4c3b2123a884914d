# scripts/bench-media.sh: the filters Ferry's MasterCommand builds for one profile at intensity 100 after the
# staging gain (argv: letter, staging dB), for the bare ffmpeg chain to run the same work. Kept in step with
# Sources/Media/MasterProfile.swift and MasterCommand.swift by hand (profile a only).
import math, sys
CURVES = {"a": ([0, 0.5, 0.5, 0, -0.5, 0, 1, 2, 3, 3.5], (3, -22, 10, 120))}
FREQS = [31.5, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000]
letter, staging = sys.argv[1], float(sys.argv[2])
curve, (ratio, threshold, attack, release) = CURVES[letter]
def gain(f):
    if f <= FREQS[0]: return curve[0]
    for k in range(1, len(FREQS)):
        if f <= FREQS[k]:
            t = math.log2(f / FREQS[k - 1]) / math.log2(FREQS[k] / FREQS[k - 1])
            return curve[k - 1] + (curve[k] - curve[k - 1]) * t
    return curve[-1]
def number(v): return str(int(v)) if v == round(v) else str(round(v * 1000) / 1000)
entries, f = [], 20.0
while f <= 20000:
    g = round(gain(f) * 100) / 100
    entries.append(f"entry({number(round(f))},{g})")
    f *= 2 ** (1 / 3)
comp = (f"acompressor=threshold={10 ** (threshold / 20):.6f}:ratio={number(ratio)}:attack={number(attack)}:"
        f"release={number(release)}:knee=4:detection=rms")
bands = ["mbl", "mbm", "mbh"]
multiband = ("acrossover=split=150 2500:order=4th" + "".join(f"[{b}]" for b in bands) + ";"
             + "".join(f"[{b}]{comp}[{b}c];" for b in bands) + "".join(f"[{b}c]" for b in bands)
             + "amix=inputs=3:normalize=0")
print(",".join([f"volume={number(staging)}dB", multiband, f"firequalizer=gain_entry='{';'.join(entries)}':zero_phase=on"]))
