"""Real photos held both ways: the Buddha photos (11 of them) with some turned to portrait (by their pixels,
and by an EXIF orientation tag over sideways pixels) all register, with one camera per size and
orientation instead of one per photo (or one shared by all, which refuses the portraits)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reconstruct.colmap_model import load_model
from reconstruct.frames import FramesConfig
from reconstruct.sfm import SfmOutputs, camera_groups
from reconstruct.stages import run_pipeline

ORIENTATION = 0x0112
ROTATE_CW = 6  # EXIF: the stored pixels must turn 90 degrees clockwise to stand upright
WORKING_SIZE = 800  # px, longest side: keeps SfM on 11 photos about a minute
FAR_VIEWS = ("00052.jpg", "00060.jpg")  # the farthest cameras: need more pixels to register


def test_camera_groups_follow_the_photos_camera_keys() -> None:
    picked = {
        "frames": [
            {"name": "a.jpg", "camera": "800x450 Pixel 7 6.81"},
            {"name": "b.jpg", "camera": "450x800 Pixel 7 6.81"},
            {"name": "c.jpg", "camera": "800x450 Pixel 7 6.81"},
            {"name": "d.jpg", "camera": "800x450 iPhone 4.2"},
        ]
    }
    assert camera_groups(picked, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]) == [0, 1, 0, 2]
    assert camera_groups({"frames": [{"name": "frame_00001.jpg", "index": 1}]}, ["x"]) is None


@pytest.mark.slow
def test_mixed_portrait_and_landscape_real_photos_all_register(buddha_photos: Path) -> None:
    for far in FAR_VIEWS:  # these two do not register at 800 px, turned or not
        (buddha_photos / far).unlink()
    photos = sorted(buddha_photos.glob("*.jpg"))
    for k, path in enumerate(photos):
        with Image.open(path) as image:
            upright = image.convert("RGB")
        if k % 4 == 1:  # a portrait photo: the phone turned on its side
            upright.transpose(Image.Transpose.ROTATE_90).save(path, quality=92)
        elif k % 4 == 3:  # the same turn, but the pixels stored sideways and tagged
            exif = Image.Exif()
            exif[ORIENTATION] = ROTATE_CW
            sideways = upright.transpose(Image.Transpose.ROTATE_90)
            sideways.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif, quality=92)
    frames, sfm = run_pipeline(
        buddha_photos,
        buddha_photos.parent / "env",
        until="sfm",
        configs={"frames": FramesConfig(max_image_size=WORKING_SIZE)},
        show_progress=False,
    )
    assert frames.summary["orientations"] == ["landscape", "portrait"]
    assert sfm.summary["registered"] == sfm.summary["total"] == len(photos)
    cameras = sorted((c["width"], c["height"]) for c in sfm.summary["cameras"])
    assert cameras == [(450, 800), (800, 450)]  # one per orientation, not one per photo
    focal = [c["params"][0] for c in sfm.summary["cameras"]]
    # the same lens either way: 930.5 px at 1368 px wide (the dataset's own calibration)
    assert np.allclose(focal, 930.5 * WORKING_SIZE / 1368, rtol=0.03), focal
    model = load_model(SfmOutputs.at(sfm.out_dir).model)  # the photos' own names, no folders
    assert sorted(model.images[i].name for i in model.reg_image_ids()) == [p.name for p in photos]
