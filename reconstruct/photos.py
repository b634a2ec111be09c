"""A folder of photos as SfM input: list, check and copy them, respecting EXIF orientation.

Photos whose EXIF orientation is already upright are copied byte for byte (COLMAP reads their
EXIF focal length as a prior); rotated ones are re-encoded upright with the rest of their EXIF.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from reconstruct.errors import ReconstructError
from reconstruct.stage import Reporter, file_digest, text_digest

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
EXIF_ORIENTATION = 0x0112
EXIF_MAKE, EXIF_MODEL, EXIF_IFD, EXIF_FOCAL_LENGTH = 0x010F, 0x0110, 0x8769, 0x920A


def camera_key(image: Image.Image, width: int, height: int) -> str:
    """Photos with equal keys were taken by the same camera at the same zoom (so SfM can
    share one set of intrinsics between them)."""
    exif = image.getexif()
    focal = exif.get_ifd(EXIF_IFD).get(EXIF_FOCAL_LENGTH, "")
    return f"{width}x{height} {exif.get(EXIF_MAKE, '')} {exif.get(EXIF_MODEL, '')} {focal}".strip()


def list_photos(folder: Path) -> list[Path]:
    """The photos directly inside ``folder``, sorted by name (shooting order on phones)."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise ReconstructError(
            f"cannot read the photo folder ({exc.strerror}); check that it exists and that you "
            "may read it",
            file=folder,
        ) from exc
    return [p for p in entries if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file()]


def photos_digest(folder: Path) -> str:
    """Digest of the photos' names and bytes: what the frames stage reads from a folder."""
    parts: list[str] = []
    for path in list_photos(folder):
        try:
            parts.append(f"{path.name}={file_digest(path)}")
        except OSError as exc:
            raise ReconstructError(f"cannot read this photo ({exc.strerror})", file=path) from exc
    return text_digest(*parts)


def import_photo(src: Path, dst_dir: Path) -> dict[str, object]:
    """Copy one photo into ``dst_dir`` upright; returns ``{name, width, height, rotated, camera}``."""
    try:
        with Image.open(src) as image:
            image.load()
            orientation = int(image.getexif().get(EXIF_ORIENTATION, 1))
            if orientation == 1:
                width, height = image.size
                shutil.copyfile(src, dst_dir / src.name)
            else:
                upright = ImageOps.exif_transpose(image)
                width, height = upright.size
                params = {"quality": 95} if src.suffix.lower() != ".png" else {}
                upright.save(dst_dir / src.name, exif=upright.getexif(), **params)
            camera = camera_key(image, width, height)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ReconstructError(
            f"cannot decode this photo ({exc}); remove it or re-export it as JPEG/PNG", file=src
        ) from exc
    return {
        "name": src.name,
        "width": width,
        "height": height,
        "rotated": orientation != 1,
        "camera": camera,
    }


def import_photos(photos: list[Path], dst_dir: Path, report: Reporter) -> list[dict[str, object]]:
    """Copy every photo upright into ``dst_dir``; per-photo records in input order."""
    records = []
    for n, src in enumerate(photos):
        records.append(import_photo(src, dst_dir))
        report((n + 1) / len(photos), f"photo {n + 1}/{len(photos)}")
    return records
