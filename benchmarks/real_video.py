"""A video of a real scene, end to end: ``twinbench reconstruct clip.mp4`` on a clip made from
the shared Buddha photos, stage by stage, then ``env validate --deep`` and ``twinbench eval
--policy scripted:expert`` (the statue is too big to grasp: the expert touches it).

    python -m benchmarks.real_video                  # a 4K clip, 1 s per photo (~1 h, 2 cores)
    python -m benchmarks.real_video --size 640x360 --hold 0.5 --fps 10

No phone video of a real table is on the machine, so the clip shows each of the 13 photos for
``--hold`` seconds, its view drifting sideways by a few percent as a hand-held phone's does (a
crop window sliding across the photo, which SfM sees as a small turn of the camera); the
photos are put in the order of their cameras around the statue (``orbit_order``). Each stage runs as its own
``twinbench reconstruct --until STAGE`` process (the earlier ones come from the cache), so its
wall time and peak memory (the process tree's largest resident set, ``wait4``) are its own;
then ``twinbench env validate --deep`` and ``twinbench eval --policy scripted:expert``
(``--episodes``; success rate, and the control step at which the touch was reached: after the
arm moved there, not at reset). Also: the floaters the objects stage removed and the size of
the object it found (the statue, 0.29 m wide at this scale; fused with floaters at the old
200 px splats, 0.93 m), and where the default robot base landed.
The scale is ``--distance`` between the frames that show photos 00006 and 00065 (0.30 m, a
made-up measurement, as in ``tests/reconstruct/test_align_buddha.py``).

Prints one JSON line per figure: {"bench": "real_video", "case", "metric", "value", "unit"}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path

import av
import numpy as np
from PIL import Image

from benchmarks import figures
from reconstruct.scans.buddha_truth import BUDDHA_DIR, DatasetCameras

BUDDHA = BUDDHA_DIR / "images"
CAMERAS = BUDDHA_DIR / "cameras"
DISTANCE = ("00006.jpg", "00065.jpg", "0.30")  # photos and metres (made up, as in the tests)
# At this scale the statue stands 0.39 m tall, above the gripper at home: the default base
# stands beyond the arm's whole home pose from all of it (reconstruct.placement), no --base.
STAGES = ("frames", "sfm", "align", "splats", "mesh", "objects", "package")


def orbit_order(photos: Sequence[Path], cameras: Path = CAMERAS) -> list[Path]:
    """``photos`` in the order a person filming walked past them: by the azimuth of each
    photo's camera centre (the dataset's ``NNNNN_P.txt`` projection matrices) about the
    cameras' mean, in the plane the cameras spread most in. (The photos' names are not in
    that order: 00007 was taken across the statue from 00006.)"""
    dataset = DatasetCameras(cameras)
    centres = np.array([dataset.centre(photo.name) for photo in photos])
    offsets = centres - centres.mean(axis=0)
    axes = np.linalg.svd(offsets)[2]
    azimuth = np.arctan2(offsets @ axes[1], offsets @ axes[0])
    return [photos[i] for i in np.argsort(azimuth)]


def clip_frames(
    photo: Path, size: tuple[int, int], count: int, drift: float
) -> Iterator[np.ndarray]:
    """``count`` RGB frames ``[H, W, 3]`` of ``photo`` at ``size`` (width, height): a window
    of ``1 - drift`` of the photo sliding across it from left to right."""
    with Image.open(photo) as image:
        rgb = image.convert("RGB")
    width, height = rgb.size
    crop_w, crop_h = round(width * (1 - drift)), round(height * (1 - drift))
    top = (height - crop_h) // 2
    for i in range(count):
        left = round((width - crop_w) * i / max(count - 1, 1))
        window = rgb.crop((left, top, left + crop_w, top + crop_h))
        yield np.asarray(window.resize(size, Image.Resampling.BILINEAR))


def photo_clip(
    photos: Sequence[Path],
    path: Path,
    *,
    size: tuple[int, int] = (3840, 2160),
    hold_s: float = 1.0,
    fps: int = 30,
    drift: float = 0.04,
) -> dict[str, int]:
    """Encode an H.264 clip showing each photo for ``hold_s`` (``clip_frames``), frame by
    frame (a 4K clip is never held in memory). Returns each photo's first frame index."""
    per_photo = max(2, round(hold_s * fps))
    first = {}
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "20", "preset": "ultrafast"}
        for k, photo in enumerate(photos):
            first[photo.name] = k * per_photo
            for frame in clip_frames(photo, size, per_photo, drift):
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return first


def frame_showing(frames_summary: dict, first: dict[str, int], photo: str, per: int) -> str:
    """The name of the frame the frames stage picked from ``photo``'s stretch of the clip."""
    lo = first[photo]
    for picked in frames_summary["frames"]:
        if lo <= picked["index"] < lo + per:
            return str(picked["name"])
    raise RuntimeError(f"the frames stage picked no frame of {photo}")


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak resident MB of the process tree, output) of one command."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


figure = partial(figures.figure, "real_video")


def run(args: argparse.Namespace, tmp: Path) -> Iterator[dict]:
    width, height = (int(v) for v in args.size.split("x"))
    case = f"buddha_clip_{width}x{height}"
    photos = orbit_order(sorted(BUDDHA.glob("*.jpg")))
    clip = tmp / "scan.mp4"
    started = time.monotonic()
    first = photo_clip(photos, clip, size=(width, height), hold_s=args.hold, fps=args.fps)
    yield figure(case, "clip_encode_time", time.monotonic() - started, "s")
    yield figure(
        case, "clip_seconds", len(photos) * max(2, round(args.hold * args.fps)) / args.fps, "s"
    )
    per = max(2, round(args.hold * args.fps))
    env_dir = tmp / "env"
    env = dict(os.environ)
    base = [sys.executable, "-m", "twinbench_cli", "reconstruct", str(clip), "-o", str(env_dir)]
    base += ["--no-progress", *args.extra]
    distance: list[str] = []
    for stage in STAGES:
        seconds, peak_mb, _ = run_measured([*base, *distance, "--until", stage], env)
        yield figure(case, f"{stage}_time", seconds, "s")
        yield figure(case, f"{stage}_peak_memory", peak_mb, "MB")
        if stage == "frames":
            summary = json.loads((env_dir / "work" / "frames" / "summary.json").read_text())
            yield figure(case, "frames_picked", summary["count"], "")
            a = frame_showing(summary, first, DISTANCE[0], per)
            b = frame_showing(summary, first, DISTANCE[1], per)
            distance = ["--distance", a, b, DISTANCE[2]]
    sfm = json.loads((env_dir / "work" / "sfm" / "summary.json").read_text())
    yield figure(case, "sfm_registered", sfm["registered"], f"of {sfm['total']}")
    yield figure(case, "sfm_child_peak_memory", sfm["memory"]["peak_mb"], "MB")
    splats = json.loads((env_dir / "work" / "splats" / "summary.json").read_text())
    yield figure(case, "heldout_psnr", splats["psnr"], "dB")
    yield from scene_figures(case, env_dir / "work")
    cli = [sys.executable, "-m", "twinbench_cli"]
    seconds, peak_mb, _ = run_measured([*cli, "env", "validate", "--deep", str(env_dir)], env)
    yield figure(case, "validate_deep_time", seconds, "s")
    yield figure(case, "validate_deep_peak_memory", peak_mb, "MB")
    runs = tmp / "runs"
    evaluate = [*cli, "eval", "--env", str(env_dir), "--policy", "scripted:expert"]
    evaluate += ["--episodes", str(args.episodes), "--out", str(runs), "--no-video"]
    seconds, peak_mb, _ = run_measured(evaluate, env)
    yield figure(case, "eval_time", seconds, "s")
    yield figure(case, "eval_peak_memory", peak_mb, "MB")
    success, reached = expert_outcomes(runs / "results.sqlite")
    yield figure(case, "expert_success", float(np.mean(success)), f"of {len(success)}")
    yield figure(case, "expert_first_reach_step", float(min(reached, default=-1)), "steps")


def scene_figures(case: str, work: Path) -> Iterator[dict]:
    """The default robot base, the floaters the objects stage removed (and why), its objects'
    sizes, and the initial conditions the package kept and dropped as touched at reset."""
    align = json.loads((work / "align" / "summary.json").read_text())
    yield figure(case, "robot_base_x", align["robot_base"]["position_m"][0], "m")
    objects = json.loads((work / "objects" / "summary.json").read_text())
    for reason, count in objects["floaters"].items():  # and the mesh samples fused from them
        unit = "samples" if reason == "surface_samples" else "Gaussians"
        yield figure(case, f"floaters_{reason}", count, unit)
    yield figure(case, "objects_found", len(objects["objects"]), "")
    for record in objects["objects"]:
        width = max(record["extents_m"][:2])
        yield figure(case, f"object_{record['name']}_width", width, "m")
    package = json.loads((work / "package" / "summary.json").read_text())
    kept, dropped = package["initial_conditions"], package["scored_at_reset_initial_conditions"]
    yield figure(case, "initial_conditions_kept", kept, f"of {kept + len(dropped)}")


def expert_outcomes(store: Path) -> tuple[list[int], list[int]]:
    """Each episode's success in the run's store (``evaluate/STORE.md``), and the control steps
    at which a successful episode first reached each criterion."""
    with contextlib.closing(sqlite3.connect(store)) as db:
        rows = db.execute("SELECT success, criteria FROM episodes").fetchall()
    reached = [s for _, c in rows for s in json.loads(c).values() if s is not None]
    return [int(success) for success, _ in rows], reached


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="3840x2160", help="clip size WIDTHxHEIGHT")
    parser.add_argument("--hold", type=float, default=1.0, help="seconds per photo")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--episodes", type=int, default=3, help="the expert's episodes")
    parser.add_argument("--keep", type=Path, default=None, help="work here and keep it")
    parser.add_argument("extra", nargs="*", help="more twinbench reconstruct options")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        for line in run(args, root):
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
