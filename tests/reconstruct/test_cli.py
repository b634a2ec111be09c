"""``twinbench reconstruct`` commands, invoked in-process."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reconstruct.cli import reconstruct_app
from reconstruct.errors import ReconstructError


def test_stages_lists_the_pipeline_in_order() -> None:
    result = CliRunner().invoke(reconstruct_app, ["--list-stages"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()][:3] == [
        "frames",
        "sfm",
        "align",
    ]


def test_unknown_until_suggests_a_stage(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        reconstruct_app, ["scan.mp4", "-o", str(tmp_path), "--until", "fram"]
    )
    assert isinstance(result.exception, ReconstructError)
    assert "Did you mean 'frames'" in str(result.exception)


def fake_video(tmp_path: Path) -> Path:
    """A non-empty file named like a video (the up-front checks do not decode it)."""
    path = tmp_path / "scan.mp4"
    path.write_bytes(b"not decoded before the frames stage")
    return path


def test_align_without_a_scale_fails_before_any_work(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        reconstruct_app, [str(fake_video(tmp_path)), "-o", str(tmp_path / "env")]
    )
    assert isinstance(result.exception, ReconstructError)
    message = str(result.exception)
    for option in ("--distance", "--object-height", "--table-height", "--marker-size"):
        assert option in message
    assert "--scale 1" in message
    assert not (tmp_path / "env").exists()


def empty_folder(tmp_path: Path) -> Path:
    (tmp_path / "photos").mkdir()
    return tmp_path / "photos"


def empty_video(tmp_path: Path) -> Path:
    (tmp_path / "scan.mov").touch()
    return tmp_path / "scan.mov"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda tmp: tmp / "missing.mp4", "the scan does not exist"),
        (empty_folder, r"found 0 photo\(s\)"),
        (empty_video, r"the video is empty \(0 bytes\)"),
        (lambda tmp: (tmp / "notes.txt").write_text("x") and tmp / "notes.txt", "unsupported"),
    ],
)
def test_the_scan_is_checked_first_in_one_line(
    tmp_path: Path, make: Callable[[Path], Path], expected: str
) -> None:
    """Before the scale question (none is given here) and before any folder is made."""
    scan = make(tmp_path)
    result = CliRunner().invoke(reconstruct_app, [str(scan), "-o", str(tmp_path / "env")])
    assert isinstance(result.exception, ReconstructError)
    message = str(result.exception)
    assert re.search(expected, message) and "\n" not in message, message
    assert str(scan) in message
    assert not (tmp_path / "env").exists()


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (["--distance", "a.jpg", "IMG_0001.jpg", "0.5"], r"'a\.jpg' is not one of the photos"),
        (["--scale", "1", "--table-hint", "b.jpg", "10", "20"], r"'b\.jpg' is not one of"),
        (["--scale", "1", "--base", "0", "0", "nan"], "must be finite"),
        (["--object-height", "0.2", "--scale", "1"], "only one source of metric scale"),
        (["--table-height", "-0.7"], "must be positive"),
        (["--scale", "1", "--exterior-camera", "c.jpg"], r"'c\.jpg' is not one of the photos"),
        (["--scale", "1", "--exterior-camera", "1,2:3,4,5"], "package.exterior_camera"),
    ],
)
def test_flags_are_checked_before_any_stage(
    tmp_path: Path, option: list[str], expected: str
) -> None:
    photos = empty_folder(tmp_path)
    for i in range(5):
        (photos / f"IMG_{i:04d}.jpg").write_bytes(b"checked for its name only")
    result = CliRunner().invoke(
        reconstruct_app, [str(photos), "-o", str(tmp_path / "env"), *option]
    )
    assert isinstance(result.exception, ReconstructError), result.output
    assert re.search(expected, str(result.exception)) and "\n" not in str(result.exception)
    assert not (tmp_path / "env").exists()


def test_a_video_frame_name_must_look_like_one(tmp_path: Path) -> None:
    args = [str(fake_video(tmp_path)), "-o", str(tmp_path / "env")]
    result = CliRunner().invoke(reconstruct_app, [*args, "--distance", "a.jpg", "b.jpg", "1"])
    assert "frame_NNNNN.jpg" in str(result.exception)


def test_run_until_frames(
    tmp_path: Path, make_video: Callable[..., Path], panning: Callable[..., list[np.ndarray]]
) -> None:
    video = make_video(panning(60))
    args = [str(video), "-o", str(tmp_path / "env"), "--until", "frames", "--no-progress"]
    result = CliRunner().invoke(reconstruct_app, args)
    assert result.exit_code == 0, result.output
    assert result.output.split()[:2] == ["frames", "ran"]
    again = CliRunner().invoke(reconstruct_app, args)
    assert again.output.split()[:2] == ["frames", "skipped"]


@pytest.mark.parametrize(
    "option", [["--marker-size", "0"], ["--scale", "-1"], ["--object-height", "0"]]
)
def test_bad_scale_values_name_the_field(tmp_path: Path, option: list[str]) -> None:
    scan = str(fake_video(tmp_path))
    result = CliRunner().invoke(reconstruct_app, [scan, "-o", str(tmp_path / "env"), *option])
    assert isinstance(result.exception, ReconstructError)
    assert "must be positive" in str(result.exception)


def fake_photos(tmp_path: Path) -> Path:
    """Five files named like photos that are not images."""
    photos = empty_folder(tmp_path)
    for i in range(5):
        (photos / f"IMG_{i:04d}.jpg").write_bytes(b"a text file renamed .jpg")
    return photos


@pytest.mark.parametrize(
    ("make", "output", "expected"),
    [
        (fake_video, "env", r"scan\.mp4: cannot open the video"),
        (fake_photos, "env", r"IMG_0000\.jpg: cannot decode this photo"),
        (fake_video, "taken", r"taken: is a file, not a folder"),
        (fake_video, "taken/env", r"taken/env: is under .*taken, which is a file, not a folder"),
    ],
)
def test_a_scan_that_does_not_decode_or_an_output_that_is_a_file_is_refused_first(
    tmp_path: Path, make: Callable[[Path], Path], output: str, expected: str
) -> None:
    """Before any stage runs, in one line: the scan's headers are read, -o must be a folder."""
    (tmp_path / "taken").write_text("an existing file")
    scan = make(tmp_path)
    result = CliRunner().invoke(
        reconstruct_app, [str(scan), "-o", str(tmp_path / output), "--scale", "1"]
    )
    assert isinstance(result.exception, ReconstructError), result.output
    message = str(result.exception)
    assert re.search(expected, message) and "\n" not in message, message
    assert not (tmp_path / "env").exists() and (tmp_path / "taken").is_file()
