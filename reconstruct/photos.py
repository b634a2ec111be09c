"""A folder of photos as SfM input: list, check and copy them upright, at the working size.

Photos already upright (EXIF orientation 1), no larger than the working size and in a format
COLMAP reads (JPEG, PNG) are copied byte for byte; the others (rotated, larger, HEIC/HEIF)
are re-encoded upright as JPEG, scaled down to the working size, with the rest of their EXIF:
COLMAP reads the focal length from it as a prior, and its focal-length tags stay true for a
uniformly scaled image. Each photo's sharpness and brightness are measured on a small grey
copy so blurred ones can be left out (``blurred_photos``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from reconstruct.errors import ReconstructError
from reconstruct.stage import Reporter
from reconstruct.video import check_size, contrast_sharpness
from twinbench.digests import file_digest, text_digest

HEIF_SUFFIXES = frozenset({".heic", ".heif"})
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"}) | HEIF_SUFFIXES
EXIF_ORIENTATION = 0x0112
EXIF_MAKE, EXIF_MODEL, EXIF_IFD, EXIF_FOCAL_LENGTH = 0x010F, 0x0110, 0x8769, 0x920A
ANALYSIS_SIZE = 640  # longest side (px) of the grey copy sharpness is measured on
NEIGHBOURS = 3  # a photo's sharpness is judged against this many photos either side of it


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


def output_name(src: Path) -> str:
    """The name a photo gets among the SfM images (HEIC/HEIF become JPEG)."""
    return f"{src.stem}.jpg" if src.suffix.lower() in HEIF_SUFFIXES else src.name


def _register_heif(src: Path) -> None:
    try:
        import pillow_heif
    except ImportError as exc:
        raise ReconstructError(
            "HEIC/HEIF photos need the pillow-heif package (pip install pillow-heif), or export "
            "them as JPEG on the phone",
            file=src,
        ) from exc
    pillow_heif.register_heif_opener()


# what a file that is not a decodable photo raises; DecompressionBombError: a header that
# claims more pixels than PIL decodes (gigapixels in a few bytes)
DECODE_ERRORS = (
    UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
)  # fmt: skip


def _undecodable(src: Path, exc: Exception) -> ReconstructError:
    return ReconstructError(
        f"cannot decode this photo ({exc}); remove it or re-export it as JPEG/PNG", file=src
    )


def check_photo(src: Path) -> None:
    """Refuse a file that is not a photo, or one too small to match, reading only its header
    (milliseconds), so a folder of broken or mislabelled files is refused before any stage
    runs."""
    if src.suffix.lower() in HEIF_SUFFIXES:
        _register_heif(src)
    try:
        with Image.open(src) as image:
            width, height = image.size  # the header is parsed on open
    except DECODE_ERRORS as exc:
        raise _undecodable(src, exc) from exc
    check_size(width, height, src)


def grey_stats(image: Image.Image) -> tuple[float, float]:
    """``(sharpness, brightness)`` of an upright image, on a grey copy whose longest side is
    ``ANALYSIS_SIZE``: ``contrast_sharpness`` (exposure-independent) and the mean grey level
    (0..255)."""
    grey = image.convert("L")
    grey.thumbnail((ANALYSIS_SIZE, ANALYSIS_SIZE), Image.Resampling.BILINEAR)
    pixels = np.asarray(grey)
    return contrast_sharpness(pixels), float(pixels.mean())


def import_photo(src: Path, dst_dir: Path, max_size: int) -> dict[str, object]:
    """Write one photo into ``dst_dir`` upright, longest side at most ``max_size`` px.

    Returns ``{name, width, height, rotated, scaled, source_size, camera, sharpness,
    brightness}`` (sizes upright, in px).
    """
    heif = src.suffix.lower() in HEIF_SUFFIXES
    if heif:
        _register_heif(src)
    name = output_name(src)
    try:
        with Image.open(src) as image:
            image.load()
            orientation = int(image.getexif().get(EXIF_ORIENTATION, 1))
            upright = ImageOps.exif_transpose(image) if orientation != 1 else image
            source_size = upright.size
            scale = min(1.0, max_size / max(source_size))
            if orientation == 1 and scale == 1.0 and not heif:
                shutil.copyfile(src, dst_dir / name)
            else:
                size = tuple(max(1, round(side * scale)) for side in source_size)
                out = upright if scale == 1.0 else upright.resize(size, Image.Resampling.LANCZOS)
                exif = upright.getexif()
                exif.pop(EXIF_ORIENTATION, None)
                if name.lower().endswith(".png"):
                    out.save(dst_dir / name, exif=exif)
                else:
                    out.convert("RGB").save(dst_dir / name, exif=exif, quality=95)
                upright = out
            width, height = upright.size
            camera = camera_key(image, width, height)
            sharpness, brightness = grey_stats(upright)
    except DECODE_ERRORS as exc:
        raise _undecodable(src, exc) from exc
    return {
        "name": name,
        "width": width,
        "height": height,
        "rotated": orientation != 1,
        "scaled": (width, height) != source_size,
        "source_size": list(source_size),
        "camera": camera,
        "sharpness": round(sharpness, 2),
        "brightness": round(brightness, 1),
    }


def import_photos(
    photos: list[Path], dst_dir: Path, report: Reporter, max_size: int
) -> list[dict[str, object]]:
    """Write every photo upright into ``dst_dir`` (``import_photo``); records in input order."""
    names: dict[str, Path] = {}
    for src in photos:
        other = names.setdefault(output_name(src).lower(), src)
        if other != src:
            raise ReconstructError(
                f"this photo and {other.name} would both become {output_name(src)} (HEIC photos "
                "are converted to JPEG); remove or rename one",
                file=src,
            )
    records = []
    for n, src in enumerate(photos):
        records.append(import_photo(src, dst_dir, max_size))
        report((n + 1) / len(photos), f"photo {n + 1}/{len(photos)}")
    return records


def blurred_photos(sharpness: np.ndarray, ratio: float) -> np.ndarray:
    """``[N]`` bool: photos less sharp than ``ratio`` times the median of their
    ``NEIGHBOURS`` neighbours on either side (in shooting order; similar views)."""
    out = np.zeros(len(sharpness), bool)
    for i in range(len(sharpness)):
        around = np.r_[sharpness[max(0, i - NEIGHBOURS) : i], sharpness[i + 1 : i + 1 + NEIGHBOURS]]
        out[i] = len(around) > 0 and sharpness[i] < ratio * float(np.median(around))
    return out
