"""The machine's memory and cores, and what they allow: the working image size and SfM threads.

Memory figures are measured with pycolmap 4.2 on CPU (``benchmarks/RESULTS.md``): SIFT
extraction holds about ``EXTRACT_BYTES_PER_PIXEL`` bytes per pixel of the image it works on
(the first octave is upsampled twice), per thread; guided matching holds a dense
``GUIDED_BYTES_PER_PAIR`` bytes per keypoint pair, per thread (23k keypoints: 6 GB each), which is
why SfM caps the keypoints per image.
"""

from __future__ import annotations

import os
from pathlib import Path

MB = 1 << 20
GB = 1 << 30
WORKING_SIZES = (1920, 1600, 1280, 1024, 800)  # px, longest side, largest first
BASE_BYTES = 400 * MB  # interpreter, pycolmap and the database, before any image
EXTRACT_BYTES_PER_PIXEL = 300  # per extraction thread, pixels of the (downscaled) image
GUIDED_BYTES_PER_PAIR = 12  # per matching thread, keypoints(image 1) x keypoints(image 2)
MATCH_BYTES_PER_KEYPOINT = 2048  # per matching thread, FAISS index and candidate lists
GUIDED_CPU_S_PER_PAIR = 50e-9  # guided matching, CPU seconds per keypoint pair of an image pair
MEMORY_SHARE = 0.5  # the share of the available memory a working size may plan for
WORST_ASPECT = 0.75  # height / width planned for (4:3 photos; 16:9 video needs less)
PLANNED_THREADS = 2  # a working size must leave room for this many extraction threads


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_memory() -> int:
    """Bytes this process could still allocate: the kernel's MemAvailable, lowered by a cgroup
    (container) limit when there is one. Falls back to 4 GB where neither can be read."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        available = None
    limit = _read_int(Path("/sys/fs/cgroup/memory.max"))
    used = _read_int(Path("/sys/fs/cgroup/memory.current"))
    if limit is not None and used is not None:
        room = max(limit - used, 0)
        available = room if available is None else min(available, room)
    return available if available is not None else 4 * GB


def extraction_bytes(long_side: int) -> int:
    """Peak bytes of one SIFT extraction thread on an image whose longest side is ``long_side``."""
    return int(EXTRACT_BYTES_PER_PIXEL * WORST_ASPECT * long_side**2)


def matching_bytes(keypoints: int, guided: bool) -> int:
    """Peak bytes of one matching thread, images of at most ``keypoints`` keypoints each."""
    dense = GUIDED_BYTES_PER_PAIR * keypoints**2 if guided else 0
    return int(MATCH_BYTES_PER_KEYPOINT * keypoints + dense)


def guided_cpu_seconds(image_pairs: int, keypoints: float) -> float:
    """Estimated CPU seconds of guided matching over ``image_pairs`` pairs of images holding
    ``keypoints`` keypoints each (0.05 s a pair at 1000 x 1000)."""
    return GUIDED_CPU_S_PER_PAIR * image_pairs * keypoints**2


def threads_for(per_thread: int, memory: int, cores: int) -> int:
    """How many threads of ``per_thread`` bytes each fit in ``memory`` beside the base (>= 1)."""
    return max(1, min(cores, int((memory - BASE_BYTES) // max(per_thread, 1))))


def working_size(memory: int, cores: int, sizes: tuple[int, ...] = WORKING_SIZES) -> int:
    """The longest side (px) frames are written at: the largest of ``sizes`` whose feature
    extraction on ``min(cores, PLANNED_THREADS)`` threads fits in ``MEMORY_SHARE`` of
    ``memory`` bytes (the smallest when none does). More cores do not shrink the images: SfM
    runs fewer threads instead (``threads_for``)."""
    budget = MEMORY_SHARE * memory
    threads = min(cores, PLANNED_THREADS)
    for size in sizes:
        if BASE_BYTES + threads * extraction_bytes(size) <= budget:
            return size
    return sizes[-1]
