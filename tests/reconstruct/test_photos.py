"""Photo folders as real phones write them: EXIF orientation, portrait and landscape, HEIC,
large sizes scaled to the working size, blurred or differently exposed shots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from reconstruct import resources
from reconstruct.errors import ReconstructError
from reconstruct.frames import FramesConfig, FramesOutputs
from reconstruct.photos import blurred_photos
from reconstruct.stages import run_pipeline

ORIENTATION, MODEL, EXIF_IFD, FOCAL, FOCAL_35 = 0x0112, 0x0110, 0x8769, 0x920A, 0xA405


def phone_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[MODEL] = "Pixel 7"
    exif[ORIENTATION] = orientation
    exif.get_ifd(EXIF_IFD).update({FOCAL: 6.81, FOCAL_35: 24})
    return exif


def save(folder: Path, name: str, pixels: np.ndarray, orientation: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    Image.fromarray(pixels).save(path, exif=phone_exif(orientation), quality=92)
    return path


def frames_of(scan: Path, env: Path, **config: object):
    [result] = run_pipeline(
        scan, env, until="frames", configs={"frames": FramesConfig(**config)}, show_progress=False
    )
    return result.summary, FramesOutputs.at(result.out_dir).images


def test_large_rotated_photos_come_out_upright_at_the_working_size_with_their_exif(
    tmp_path: Path, canvas: Callable[[int, int, int], np.ndarray]
) -> None:
    folder = tmp_path / "photos"
    stored = canvas(400, 300, 0)  # stored sideways, shown rotated 90 degrees clockwise
    save(folder, "IMG_0.jpg", stored, orientation=6)
    for i in range(1, 5):
        save(folder, f"IMG_{i}.jpg", canvas(400, 300, i))
    summary, images = frames_of(folder, tmp_path / "env", max_image_size=200)
    assert summary["working_size"] == 200 and summary["working_size_rule"].startswith("set")
    first = summary["frames"][0]
    assert first["rotated"] and first["scaled"] and first["source_size"] == [300, 400]
    upright = Image.open(images / "IMG_0.jpg")
    assert upright.size == (150, 200)
    exif = upright.getexif()
    assert exif.get(ORIENTATION, 1) == 1 and exif[MODEL] == "Pixel 7"
    assert exif.get_ifd(EXIF_IFD)[FOCAL_35] == 24  # the focal prior still holds scaled
    expected = cv2.resize(np.rot90(stored, k=-1), (150, 200), interpolation=cv2.INTER_AREA)
    assert np.abs(np.asarray(upright, float) - expected).mean() < 12
    assert all(Image.open(images / f"IMG_{i}.jpg").size == (200, 150) for i in range(1, 5))


def test_the_working_size_is_chosen_from_the_memory(
    tmp_path: Path, canvas: Callable[[int, int, int], np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "photos"
    for i in range(5):
        save(folder, f"{i}.jpg", canvas(1000, 750, i))
    monkeypatch.setattr(resources, "available_memory", lambda: 1 << 30)
    summary, images = frames_of(folder, tmp_path / "env")
    assert summary["working_size"] == 800 and "1.0 GB available" in summary["working_size_rule"]
    assert Image.open(images / "0.jpg").size == (800, 600)
    monkeypatch.setattr(resources, "available_memory", lambda: 16 << 30)
    summary, images = frames_of(folder, tmp_path / "env2")
    assert summary["working_size"] == 1920 and not summary["frames"][0]["scaled"]
    assert (images / "0.jpg").read_bytes() == (folder / "0.jpg").read_bytes()  # untouched


def test_portrait_and_landscape_photos_mixed(
    tmp_path: Path, canvas: Callable[[int, int, int], np.ndarray]
) -> None:
    folder = tmp_path / "photos"
    for i in range(3):
        save(folder, f"L{i}.jpg", canvas(320, 240, i))
        save(folder, f"P{i}.jpg", canvas(240, 320, 10 + i))
    summary, images = frames_of(folder, tmp_path / "env")
    assert summary["orientations"] == ["landscape", "portrait"]
    assert not summary["single_camera"]  # one camera per image: the sizes differ
    assert Image.open(images / "P0.jpg").size == (240, 320)


def test_heic_photos_become_jpeg_with_their_exif(
    tmp_path: Path, canvas: Callable[[int, int, int], np.ndarray]
) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        size = (120, 160) if i == 0 else (160, 120)  # a portrait one among them
        Image.fromarray(canvas(*size, i)).save(
            folder / f"IMG_{i}.HEIC", exif=phone_exif(), quality=90
        )
    summary, images = frames_of(folder, tmp_path / "env")
    assert summary["images"] == [f"IMG_{i}.jpg" for i in range(5)]
    converted = Image.open(images / "IMG_0.jpg")
    assert converted.format == "JPEG" and converted.size == (120, 160)
    assert converted.getexif()[MODEL] == "Pixel 7"
    original = np.asarray(Image.open(folder / "IMG_0.HEIC").convert("RGB"), float)
    assert np.abs(np.asarray(converted, float) - original).mean() < 6
    Image.fromarray(canvas(160, 120, 9)).save(folder / "IMG_1.jpg")
    with pytest.raises(ReconstructError, match=r"would both become IMG_1\.jpg"):
        frames_of(folder, tmp_path / "env2")


def test_a_blurred_photo_is_left_out_but_not_an_underexposed_one(
    tmp_path: Path, canvas: Callable[[int, int, int], np.ndarray]
) -> None:
    folder = tmp_path / "photos"
    base = canvas(900, 400, 5)
    for i in range(7):
        view = base[50:350, 60 * i : 60 * i + 400].copy()
        if i == 3:
            view = cv2.GaussianBlur(view, (0, 0), 3.0)  # shaken
        if i == 5:
            view = (view * 0.4).astype(np.uint8)  # auto-exposure chose a darker shot
        save(folder, f"{i}.jpg", view)
    summary, images = frames_of(folder, tmp_path / "env")
    assert summary["blurred"] == ["3.jpg"] and summary["count"] == 6
    assert "3.jpg" not in summary["images"] and not (images / "3.jpg").exists()
    assert len(summary["frames"]) == 7 and summary["frames"][3]["blurred"]
    assert summary["frames"][5]["brightness"] < 0.5 * summary["frames"][4]["brightness"]
    for path in sorted(folder.iterdir())[5:]:
        path.unlink()  # five left, one blurred: kept, blurred views are better than none
    summary, _ = frames_of(folder, tmp_path / "env2")
    assert summary["count"] == 5 and summary["blurred"] == []


def test_blur_is_judged_against_neighbours() -> None:
    sharpness = np.array([1.0, 1.1, 0.2, 1.0, 0.9, 3.0, 3.2, 1.5])
    assert blurred_photos(sharpness, 0.35).tolist() == [False, False, True] + [False] * 5
    assert not blurred_photos(np.array([1.0]), 0.35).any()
