"""Textures of the source worlds: procedural wood, cloth, cardboard, plastic and printed
packaging, crops of real photographs, and the ArUco marker sheet. Images are uint8 RGB
``[H, W, 3]``, row 0 at the top; deterministic for a seed.

The photographs are the AliceVision Buddha Dataset's (Gasparini, Castan, Lanthony 2017,
CC BY 4.0, doi:10.5281/zenodo.1203283); without them, procedural stand-ins are used.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

PHOTO_DIR = Path("/work/shared/data/scans/buddha_tabletop/images")
PHOTO_CREDIT = "AliceVision Buddha Dataset, Gasparini, Castan, Lanthony 2017, CC BY 4.0"


def smooth_noise(shape: tuple[int, int], cell: float, rng: np.random.Generator) -> np.ndarray:
    """``[H, W]`` noise in about [-1, 1] with features ``cell`` pixels across (bicubic)."""
    h, w = shape
    coarse = rng.normal(0.0, 1.0, (max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)))
    return cv2.resize(coarse.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)


def wood(size: tuple[int, int], rng: np.random.Generator, px_per_m: float) -> np.ndarray:
    """Oak-like planks along x: per-plank tone, ring grain and broad figure bands bent by
    noise, fibres, seams and knots. The centimetre-scale figure matters: small training
    images see nothing of the fine grain, and a plain surface reconstructs badly."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) / px_per_m
    plank = 0.12  # m
    index = np.floor((ys + 0.03) / plank).astype(int)
    plank_tone = rng.uniform(0.82, 1.15, index.max() + 1)[index]
    bend = 0.004 * smooth_noise((h, w), 0.15 * px_per_m, rng)
    rings = np.sin(2 * np.pi * (ys + bend) / 0.006 + 3 * smooth_noise((h, w), 0.4 * px_per_m, rng))
    figure = np.sin(
        2 * np.pi * (ys + 3 * bend + 0.01 * xs) / 0.025
        + 2 * smooth_noise((h, w), 0.2 * px_per_m, rng)
    )
    fibres = smooth_noise((h, w), 0.002 * px_per_m, rng) * 0.5
    tone = plank_tone * (
        0.55 + 0.05 * rings + 0.07 * figure + 0.04 * fibres
        + 0.06 * smooth_noise((h, w), 0.05 * px_per_m, rng)
    )  # fmt: skip
    seams = np.abs(((ys + 0.03) % plank) - plank / 2) > plank / 2 - 0.0012
    tone = np.where(seams, tone * 0.55, tone)
    for _ in range(int(w * h / px_per_m**2 * 12)):  # knots, about a dozen per square metre
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.005, 0.014) * px_per_m
        d = ((xs * px_per_m - cx) / (2.5 * r)) ** 2 + ((ys * px_per_m - cy) / r) ** 2
        tone = tone * (1 - 0.45 * np.exp(-d))
    flecks = np.ones((h, w), np.float32)  # oak's ray flecks: short streaks along the grain
    for _ in range(int(w * h / px_per_m**2 * 2500)):
        centre = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        axes = (int(rng.uniform(0.003, 0.009) * px_per_m), max(1, int(0.0012 * px_per_m)))
        shade = float(rng.choice([0.7, 1.25]))
        cv2.ellipse(flecks, centre, axes, float(rng.normal(0, 8)), 0, 360, shade, -1, cv2.LINE_AA)
    tone = tone * cv2.GaussianBlur(flecks, (0, 0), 0.6)
    colour = np.array([0.78, 0.56, 0.36]) * tone[..., None] / 0.55
    return np.clip(colour * 255, 0, 255).astype(np.uint8)


def cardboard(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Brown corrugated board: fibres, blotches and faint flute stripes."""
    w, h = size
    base = np.array([0.66, 0.5, 0.33])
    tone = (
        1.0
        + 0.06 * smooth_noise((h, w), 40, rng)
        + 0.05 * smooth_noise((h, w), 3, rng)
        + 0.02 * np.sin(np.arange(w) / 2.2)[None, :]
    )
    return np.clip(base * tone[..., None] * 255, 0, 255).astype(np.uint8)


def packaging(
    size: tuple[int, int], colour: tuple[int, int, int], words: list[str], rng: np.random.Generator
) -> np.ndarray:
    """A printed package face: coloured ground with grain, bands, words and a barcode."""
    w, h = size
    ground = np.array(colour, np.float32) * (1 + 0.08 * smooth_noise((h, w), 12, rng))[..., None]
    image = np.clip(ground, 0, 255).astype(np.uint8)
    light = tuple(int(min(255, c * 0.4 + 160)) for c in colour)
    dark = tuple(int(c * 0.3) for c in colour)
    cv2.rectangle(image, (0, int(0.62 * h)), (w, int(0.72 * h)), light, -1)
    for k, word in enumerate(words):
        scale = w / 260 * (1.3 if k == 0 else 0.8)
        y = int(h * (0.3 + 0.18 * k))
        cv2.putText(image, word, (int(0.08 * w), y), cv2.FONT_HERSHEY_DUPLEX, scale, (255, 255, 255), max(1, int(3 * scale)), cv2.LINE_AA)  # fmt: skip
        cv2.putText(image, word, (int(0.08 * w), y), cv2.FONT_HERSHEY_DUPLEX, scale, dark, max(1, int(scale)), cv2.LINE_AA)  # fmt: skip
    x = int(0.55 * w)
    while x < int(0.92 * w):  # barcode
        bar = int(rng.integers(1, 4))
        cv2.rectangle(image, (x, int(0.78 * h)), (x + bar, int(0.93 * h)), (20, 20, 20), -1)
        x += bar + int(rng.integers(1, 4))
    for _ in range(6):  # small printed dots and logos
        c = (int(rng.integers(0, 256)), int(rng.integers(0, 256)), int(rng.integers(0, 256)))
        centre = (int(rng.uniform(0.05, 0.5) * w), int(rng.uniform(0.75, 0.95) * h))
        cv2.circle(image, centre, int(rng.uniform(0.02, 0.05) * w), c, -1, cv2.LINE_AA)
    return image


def weave(size: tuple[int, int], rng: np.random.Generator, strip: int = 14) -> np.ndarray:
    """Woven rattan: strips alternating over and under, each with its own tone and fibres."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w]
    over = ((xs // strip) + (ys // strip)) % 2 == 0
    along = np.where(over, xs, ys).astype(np.float32)
    strip_id = np.where(over, ys // strip, xs // strip + 10_000)
    tones = rng.uniform(0.75, 1.15, strip_id.max() + 1)
    fibre = 0.08 * np.sin(along / 1.7 + rng.uniform(0, 6.28)) + 0.06 * smooth_noise((h, w), 2, rng)
    edge = np.minimum(
        np.where(over, ys % strip, xs % strip), strip - 1 - np.where(over, ys % strip, xs % strip)
    )
    shade = np.clip(edge / 3.0, 0.35, 1.0)
    tone = tones[strip_id] * shade * (1 + fibre) * (1 + 0.1 * smooth_noise((h, w), 60, rng))
    colour = np.array([0.72, 0.56, 0.36]) * tone[..., None]
    return np.clip(colour * 255, 0, 255).astype(np.uint8)


def cloth(size: tuple[int, int], rng: np.random.Generator, px_per_m: float) -> np.ndarray:
    """A light block-printed tablecloth: linen ground (threads, slubs), motifs of two or
    three dots stamped by hand at random places in three inks, and broad fold shading.
    Motifs at random (not a repeat) keep structure from motion from matching one with
    another; their 1-4 cm size is what small training images see."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    threads = 0.03 * np.sin(xs * 2.1) * np.sin(ys * 1.9) + 0.03 * smooth_noise((h, w), 1.5, rng)
    slubs = 0.04 * smooth_noise((h, w), 0.01 * px_per_m, rng)
    ground = np.array([0.9, 0.88, 0.82], np.float32) * (1 + threads + slubs)[..., None]
    image = np.clip(ground * 255, 0, 255).astype(np.uint8)
    inks = [(46, 84, 140), (52, 128, 120), (200, 150, 40)]  # indigo, teal, mustard
    for _ in range(int(w * h / px_per_m**2 * 160)):
        ink = inks[int(rng.integers(len(inks)))]
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        radius = rng.uniform(0.004, 0.012) * px_per_m
        for _ in range(int(rng.integers(2, 4))):
            angle = rng.uniform(0, 2 * np.pi)
            at = (int(cx + 1.6 * radius * np.cos(angle)), int(cy + 1.6 * radius * np.sin(angle)))
            cv2.circle(image, at, max(1, int(radius)), ink, -1, cv2.LINE_AA)
        cv2.circle(image, (int(cx), int(cy)), max(1, int(0.5 * radius)), (240, 236, 226), -1, cv2.LINE_AA)  # fmt: skip
    folds = 1 + 0.06 * smooth_noise((h, w), 0.25 * px_per_m, rng)
    return np.clip(image * folds[..., None], 0, 255).astype(np.uint8)


def plastic(
    size: tuple[int, int], colour: tuple[int, int, int], rng: np.random.Generator
) -> np.ndarray:
    """Moulded plastic (a crate's): coloured ground with a faint mottle, rows of dark
    ventilation slots, scuffs and a few stickers."""
    w, h = size
    tone = 1 + 0.05 * smooth_noise((h, w), 30, rng) + 0.03 * smooth_noise((h, w), 3, rng)
    image = np.clip(np.array(colour, np.float32) * tone[..., None], 0, 255).astype(np.uint8)
    dark = tuple(int(c * 0.35) for c in colour)
    for y in range(12, h - 12, 34):
        offset = 0 if (y // 34) % 2 else 17
        for x in range(10 + offset, w - 30, 48):
            cv2.rectangle(image, (x, y), (x + 24, y + 9), dark, -1, cv2.LINE_AA)
    for _ in range(40):  # scuffs
        start = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        end = (start[0] + int(rng.normal(0, 25)), start[1] + int(rng.normal(0, 25)))
        cv2.line(image, start, end, (215, 215, 210), 1, cv2.LINE_AA)
    for _ in range(6):  # stickers
        c = (int(rng.integers(120, 256)), int(rng.integers(120, 256)), int(rng.integers(120, 256)))
        x, y = int(rng.uniform(0, w - 60)), int(rng.uniform(0, h - 40))
        cv2.rectangle(image, (x, y), (x + int(rng.uniform(25, 60)), y + int(rng.uniform(15, 40))), c, -1)  # fmt: skip
    return image


def photo_crop(
    name: str,
    box: tuple[float, float, float, float],
    size: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, str]:
    """A crop (x0, y0, x1, y1 as fractions) of one Buddha photograph resized to ``size``, and
    where it came from; procedural speckle if the photographs are not available."""
    path = PHOTO_DIR / name
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        w, h = size
        speckle = 0.7 + 0.15 * smooth_noise((h, w), 6, rng) + 0.1 * smooth_noise((h, w), 2, rng)
        image = np.clip(np.stack([speckle] * 3, -1) * 230, 0, 255).astype(np.uint8)
        return image, "procedural (photographs not found)"
    ih, iw = bgr.shape[:2]
    x0, y0, x1, y1 = box
    crop = bgr[int(y0 * ih) : int(y1 * ih), int(x0 * iw) : int(x1 * iw)]
    image = cv2.cvtColor(cv2.resize(crop, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    return image, f"{name} crop {box} ({PHOTO_CREDIT})"


def aruco_sheet(
    marker_id: int, marker_px: int, margin_px: int, dictionary: int = cv2.aruco.DICT_4X4_50
) -> np.ndarray:
    """The printed marker (black square ``marker_px`` wide) on white paper with a margin."""
    marker = cv2.aruco.generateImageMarker(
        cv2.aruco.getPredefinedDictionary(dictionary), marker_id, marker_px
    )
    sheet = np.full((marker_px + 2 * margin_px,) * 2, 245, np.uint8)
    sheet[margin_px : margin_px + marker_px, margin_px : margin_px + marker_px] = marker
    return np.repeat(sheet[..., None], 3, axis=2)


def paste(
    canvas: np.ndarray, image: np.ndarray, centre_px: tuple[float, float], angle_deg: float
) -> None:
    """Paste ``image`` onto ``canvas`` (in place), rotated counter-clockwise (as seen on the
    image) by ``angle_deg`` about its centre, placed at ``centre_px`` (x, y)."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), angle_deg, 1.0)
    matrix[:, 2] += np.array(centre_px) - (w / 2 - 0.5, h / 2 - 0.5)
    size = (canvas.shape[1], canvas.shape[0])
    warped = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), matrix, size, flags=cv2.INTER_LINEAR)
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    canvas[:] = (canvas * (1 - alpha) + warped * alpha).astype(np.uint8)
