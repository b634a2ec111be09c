"""Stage ``frames`` on synthetic videos and photo folders built here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from reconstruct.errors import ReconstructError
from reconstruct.frames import FramesConfig, FramesOutputs
from reconstruct.stages import run_pipeline
from reconstruct.video import VideoStats, choose_frames

BLURRED = tuple(range(3, 90, 7))


def run_frames(scan: Path, env: Path, config: FramesConfig | None = None):
    configs = {"frames": config} if config else None
    return run_pipeline(scan, env, until="frames", configs=configs, show_progress=False)


def assert_no_stage_output(env: Path) -> None:
    work = env / "work"
    assert not (work / "frames").exists()
    assert not work.exists() or not [p for p in work.iterdir() if p.name.startswith(".")]


def test_video_frames_are_sharp_spread_and_cached(
    tmp_path: Path, make_video: Callable[..., Path], panning: Callable[..., list[np.ndarray]]
) -> None:
    video = make_video(panning(90, blurred=BLURRED))
    env = tmp_path / "env"
    [result] = run_frames(video, env)
    summary = result.summary
    picked = [f["index"] for f in summary["frames"]]
    assert summary["source"] == "video" and summary["single_camera"]
    assert summary["decoded"] == 90 and summary["blurred"] == len(BLURRED)
    assert not set(picked) & set(BLURRED)
    assert 10 <= len(picked) <= 25  # 4 px/frame over 90 frames = 0.9 diagonals, one per 0.05
    assert picked == sorted(picked) and picked[0] <= 5 and picked[-1] >= 84
    assert max(np.diff(picked)) <= 10
    folder = FramesOutputs.at(result.out_dir).images
    images = sorted(p.name for p in folder.iterdir())
    assert images == sorted(summary["images"])
    assert cv2.imread(str(folder / images[0])).shape == (240, 320, 3)
    [again] = run_frames(video, env)
    assert again.status == "skipped"
    [capped] = run_frames(video, env, FramesConfig(max_frames=6))
    assert capped.status == "ran" and 5 <= capped.summary["count"] <= 6


def test_rotated_video_frames_come_out_upright(
    tmp_path: Path, make_video: Callable[..., Path], panning: Callable[..., list[np.ndarray]]
) -> None:
    frames = panning(40)
    video = make_video(frames, rotation=90)
    [result] = run_frames(video, tmp_path / "env")
    first = result.summary["frames"][0]
    image = cv2.imread(str(FramesOutputs.at(result.out_dir).images / first["name"]))
    assert image.shape == (320, 240, 3)
    expected = np.rot90(frames[first["index"]])[:, :, ::-1].astype(float)
    assert np.abs(image.astype(float) - expected).mean() < 12


def test_auto_exposure_changes_are_not_taken_for_blur(
    tmp_path: Path, make_video: Callable[..., Path], panning: Callable[..., list[np.ndarray]]
) -> None:
    frames = panning(90)
    darker = (np.arange(90) // 10) % 2 == 1  # the phone darkens the picture every other second
    exposed = [
        (f * 0.5 + 15).astype(np.uint8) if d else f for f, d in zip(frames, darker, strict=True)
    ]
    [plain] = run_frames(make_video(frames, name="plain.mp4"), tmp_path / "plain")
    [result] = run_frames(make_video(exposed, name="exposed.mp4"), tmp_path / "exposed")
    assert result.summary["blurred"] == 0 and result.summary["usable"] == 90
    assert abs(result.summary["total_motion"] - plain.summary["total_motion"]) < 0.02
    assert abs(result.summary["count"] - plain.summary["count"]) <= 1
    picked = np.array([f["index"] for f in result.summary["frames"]])
    assert 0 < darker[picked].sum() < len(picked)  # picks from both exposures


def stats(motion: np.ndarray, fps: float = 30.0, sharpness: np.ndarray | None = None) -> VideoStats:
    n = len(motion)
    return VideoStats(
        times=np.arange(n) / fps,
        sharpness=np.full(n, 100.0) if sharpness is None else sharpness,
        motion=motion,
        brightness=np.full(n, 120.0),
        contrast=np.full(n, 40.0),
        texture=np.full(n, 200),
        width=640,
        height=480,
        rotation=0,
        expected_frames=n,
    )


def choose(s: VideoStats, **overrides: float):
    params = dict(
        max_frames=150, step_motion=0.05, min_motion=0.01, min_per_second=2.0, blur_ratio=0.5
    )
    params.update(overrides)
    return choose_frames(s, **params)


def test_choose_frames_caps_the_count_and_spreads_the_picks() -> None:
    picks = choose(stats(np.full(900, 0.01)), max_frames=10).indices
    assert len(picks) == 10
    assert np.diff(picks).min() >= 60  # 900 frames in 10 picks: never bunched


def test_choose_frames_skips_pauses_and_keeps_a_rate_while_moving_slowly() -> None:
    motion = np.r_[np.full(60, 0.01), np.zeros(90), np.full(120, 0.001)]
    picks = choose(stats(motion)).indices
    paused = picks[(picks >= 60) & (picks < 150)]
    slow = picks[picks >= 150]
    assert len(paused) <= 1  # a pause adds no near-duplicates
    assert len(slow) >= 7  # 4 s of slow motion at >= 2 per second (motion alone gives ~2)


def test_choose_frames_leaves_out_blurred_stretches() -> None:
    sharpness = np.full(300, 100.0)
    sharpness[100:110] = 10.0
    picks = choose(stats(np.full(300, 0.01), sharpness=sharpness)).indices
    assert not ((picks >= 100) & (picks < 110)).any()


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("static", "barely moves"),
        ("black", "black, over-exposed or featureless"),
        ("truncated", "truncated or corrupt"),
        ("short", "only .* usable distinct frames"),
    ],
)
def test_bad_videos_give_one_clear_error_and_no_output(
    tmp_path: Path,
    make_video: Callable[..., Path],
    panning: Callable[..., list[np.ndarray]],
    canvas: Callable[[int, int, int], np.ndarray],
    kind: str,
    message: str,
) -> None:
    if kind == "static":
        video = make_video([canvas(320, 240, 1)] * 60)
    elif kind == "black":
        video = make_video([np.zeros((240, 320, 3), np.uint8)] * 30)
    elif kind == "short":
        frames = panning(60, speed=4.0)
        video = make_video(frames[:1] * 20 + frames[:24:8] + frames[23:24] * 20)
    else:
        full = make_video(panning(60))
        video = tmp_path / "cut.mp4"
        video.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    env = tmp_path / "env"
    with pytest.raises(ReconstructError, match=message) as info:
        run_frames(video, env)
    assert info.value.file == str(video)
    assert_no_stage_output(env)


@pytest.fixture
def write_photos(
    canvas: Callable[[int, int, int], np.ndarray],
) -> Callable[[Path, int], list[Path]]:
    def write(folder: Path, count: int) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i in range(count):
            path = folder / f"IMG_{i:04d}.jpg"
            Image.fromarray(canvas(160, 120, i)).save(path, quality=90)
            paths.append(path)
        return paths

    return write


def test_photos_pass_through_and_exif_orientation_is_respected(
    tmp_path: Path, write_photos: Callable[[Path, int], list[Path]]
) -> None:
    photos = write_photos(tmp_path / "photos", 5)
    rotated = Image.open(photos[0])
    exif = rotated.getexif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    rotated.save(photos[0], exif=exif, quality=90)
    env = tmp_path / "env"
    [result] = run_frames(tmp_path / "photos", env)
    assert result.summary["source"] == "photos" and result.summary["count"] == 5
    assert result.summary["single_camera"] is False  # the rotated photo has another size
    out = FramesOutputs.at(result.out_dir).images
    assert (out / photos[1].name).read_bytes() == photos[1].read_bytes()
    upright = Image.open(out / photos[0].name)
    assert upright.size == (120, 160)
    assert upright.getexif().get(0x0112, 1) == 1


def test_too_few_photos(tmp_path: Path, write_photos: Callable[[Path, int], list[Path]]) -> None:
    write_photos(tmp_path / "photos", 3)
    with pytest.raises(ReconstructError, match="found 3 photo"):
        run_frames(tmp_path / "photos", tmp_path / "env")
    assert_no_stage_output(tmp_path / "env")


def test_a_corrupt_photo_is_named(
    tmp_path: Path, write_photos: Callable[[Path, int], list[Path]]
) -> None:
    photos = write_photos(tmp_path / "photos", 5)
    photos[2].write_bytes(photos[2].read_bytes()[:200])
    with pytest.raises(ReconstructError, match="cannot decode this photo") as info:
        run_frames(tmp_path / "photos", tmp_path / "env")
    assert info.value.file == str(photos[2])
    assert_no_stage_output(tmp_path / "env")


def test_unreadable_or_missing_scans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ReconstructError, match="does not exist"):
        run_frames(tmp_path / "nowhere", tmp_path / "env")
    folder = tmp_path / "locked"
    folder.mkdir()

    def refuse(self: Path):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", refuse)
    with pytest.raises(ReconstructError, match="cannot read the photo folder"):
        run_frames(folder, tmp_path / "env")


def test_unsupported_scan_type(tmp_path: Path) -> None:
    scan = tmp_path / "notes.txt"
    scan.write_text("hello")
    with pytest.raises(ReconstructError, match=r"unsupported scan type '\.txt'"):
        run_frames(scan, tmp_path / "env")
    assert_no_stage_output(tmp_path / "env")


def test_invalid_config_names_the_field() -> None:
    with pytest.raises(ReconstructError, match=r"frames\.max_frames"):
        FramesConfig(max_frames=2)


def test_progress_off_a_terminal_is_a_line_per_tenth(
    tmp_path: Path, write_photos: Callable[[Path, int], list[Path]], capsys
) -> None:
    """Run into a log (no terminal), the progress display prints plain lines as each stage
    passes another tenth, each once, instead of nothing until the stage ends."""
    write_photos(tmp_path / "photos", 20)
    run_pipeline(tmp_path / "photos", tmp_path / "env", until="frames", show_progress=True)
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    percents = [int(words[1].rstrip("%")) for words in lines if words and words[0] == "frames"]
    assert len(percents) >= 5 and percents == sorted(set(percents)), lines
    assert all(p % 10 == 0 and p < 100 for p in percents), percents
