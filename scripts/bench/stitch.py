#!/usr/bin/env python3
"""Measures a split-and-stitch output against the one-pass reference (scripts/bench-stitch.sh).

  stitch.py OUTPUT REFERENCE -> one JSON line: frames, durations, A/V start offsets, PSNR overall and the
  lowest PSNR of the frames next to a cut (each key frame of OUTPUT, the frame before it and the one after).
Uses ffprobe and ffmpeg's psnr filter; standard library only.
"""
import json
import os
import subprocess
import sys
import tempfile


def streams(path):
    text = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-show_entries",
         "stream=codec_type,nb_read_packets,start_time,duration", "-of", "json", path],
        check=True, capture_output=True, text=True).stdout
    found = {}
    for stream in json.loads(text)["streams"]:
        found.setdefault(stream["codec_type"], stream)
    return found


def key_frames(path):
    """Indexes (in presentation order) of the video key frames of `path`."""
    text = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts,flags", "-of", "csv=p=0",
         path], check=True, capture_output=True, text=True).stdout
    packets = []
    for line in text.split():
        pts, flags = line.split(",")[:2]
        packets.append((int(pts), "K" in flags))
    order = sorted(packets)
    return [index for index, (_, key) in enumerate(order) if key]


def psnr(path, reference):
    with tempfile.TemporaryDirectory() as directory:
        stats = os.path.join(directory, "psnr.log")
        result = subprocess.run(
            ["ffmpeg", "-hide_banner", "-nostdin", "-i", path, "-i", reference, "-lavfi",
             f"[0:v][1:v]psnr=stats_file={stats}", "-f", "null", "-"], check=True, capture_output=True, text=True)
        overall = None
        for line in result.stderr.splitlines():
            if "average:" in line:
                overall = float(line.split("average:")[1].split()[0].replace("inf", "1e9"))
        frames = []
        with open(stats) as handle:
            for line in handle:
                fields = dict(part.split(":", 1) for part in line.split())
                frames.append(float(fields["psnr_avg"].replace("inf", "1e9")))
    return overall, frames


def main():
    output, reference = sys.argv[1], sys.argv[2]
    mine, theirs = streams(output), streams(reference)
    overall, frames = psnr(output, reference)
    keys = [k for k in key_frames(output) if k > 0]
    near = sorted({i for k in keys for i in (k - 1, k, k + 1) if 0 <= i < len(frames)})
    worst_near = min((frames[i] for i in near), default=None)

    def offset(found):
        return float(found["audio"]["start_time"]) - float(found["video"]["start_time"])

    print(json.dumps({
        "frames": int(mine["video"]["nb_read_packets"]),
        "reference_frames": int(theirs["video"]["nb_read_packets"]),
        "video_duration": float(mine["video"]["duration"]),
        "reference_video_duration": float(theirs["video"]["duration"]),
        "av_offset": offset(mine),
        "reference_av_offset": offset(theirs),
        "psnr": overall,
        "psnr_worst_frame": min(frames),
        "psnr_worst_near_cut": worst_near,
        "frames_near_cuts": len(near),
        "key_frames": len(keys) + 1,
    }))


if __name__ == "__main__":
    main()
