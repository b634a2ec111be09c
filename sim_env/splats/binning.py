"""Stage 2 of the CPU rasterizer: depth sort and tile binning.

The visible splats are sorted front to back once (a stable LSD radix sort on the float32 bit
patterns of their positive depths, so ties keep input order as gsplat's stable sort does).
Each splat's index is then appended, in that order, to the list of every tile its pixel
rectangle touches (a counting sort by tile), so every list is front to back without a
per-tile sort.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from sim_env.splats.constants import TILE_SIZE
from sim_env.splats.project import REC_DEPTH, REC_RECT, Projection

__all__ = ["TileBins", "bin_tiles"]

_RADIX_BITS = 11
_RADIX = 1 << _RADIX_BITS
_TILE_SHIFT = TILE_SIZE.bit_length() - 1
if 1 << _TILE_SHIFT != TILE_SIZE:
    raise ImportError("TILE_SIZE must be a power of two")


class TileBins(NamedTuple):
    """Every tile's splats, front to back."""

    records: np.ndarray  # [N, REC_WIDTH] f32, the projection's records
    offsets: np.ndarray  # [tiles_x * tiles_y + 1] i64; tile t owns entries[offsets[t]:offsets[t+1]]
    entries: np.ndarray  # [n_intersections] i32 record indices, each tile's run front to back
    tiles_x: int
    tiles_y: int


@numba.njit(cache=True)
def _collect(records, irecords, tiles_x, n_tiles):
    """One pass over the records -> visible rows, their depths, their tile rectangles packed
    as tx0 | tx1 << 16 | ty0 << 32 | ty1 << 48, and per-tile counts (shifted by one)."""
    n = records.shape[0]
    order = np.empty(n, np.int32)
    depth = np.empty(n, np.float32)
    tiles = np.empty(n, np.uint64)
    counts = np.zeros(n_tiles + 1, np.int64)
    m = 0
    for i in range(n):
        x0, x1 = irecords[i, REC_RECT], irecords[i, REC_RECT + 1]
        if x0 > x1:
            continue
        tx0, tx1 = x0 >> _TILE_SHIFT, x1 >> _TILE_SHIFT
        ty0, ty1 = (
            irecords[i, REC_RECT + 2] >> _TILE_SHIFT,
            irecords[i, REC_RECT + 3] >> _TILE_SHIFT,
        )
        for ty in range(ty0, ty1 + 1):
            for tx in range(tx0, tx1 + 1):
                counts[ty * tiles_x + tx + 1] += 1
        order[m] = i
        depth[m] = records[i, REC_DEPTH]
        tiles[m] = (
            np.uint64(tx0) | np.uint64(tx1) << 16 | np.uint64(ty0) << 32 | np.uint64(ty1) << 48
        )
        m += 1
    return order[:m], depth[:m], tiles[:m], counts


@numba.njit(cache=True)
def _sort_by_depth(depth, order, tiles):
    """Stable LSD radix sort of (order, tiles) by depth (positive floats sort like their bits)."""
    m = depth.shape[0]
    keys = depth.view(np.uint32)
    keys_tmp = np.empty_like(keys)
    order_tmp = np.empty_like(order)
    tiles_tmp = np.empty_like(tiles)
    hist = np.empty(_RADIX, np.int64)
    for shift in range(0, 32, _RADIX_BITS):
        hist[:] = 0
        for i in range(m):
            hist[(keys[i] >> shift) & (_RADIX - 1)] += 1
        if m == 0 or hist[(keys[0] >> shift) & (_RADIX - 1)] == m:
            continue  # every key has the same digit: the pass would not move anything
        total = 0
        for d in range(_RADIX):
            c = hist[d]
            hist[d] = total
            total += c
        for i in range(m):
            d = (keys[i] >> shift) & (_RADIX - 1)
            p = hist[d]
            hist[d] = p + 1
            keys_tmp[p] = keys[i]
            order_tmp[p] = order[i]
            tiles_tmp[p] = tiles[i]
        keys, keys_tmp = keys_tmp, keys
        order, order_tmp = order_tmp, order
        tiles, tiles_tmp = tiles_tmp, tiles
    return order, tiles


@numba.njit(cache=True)
def _fill_tiles(order, tiles, offsets, tiles_x):
    """Each tile's list of splat indices, front to back (filled in sorted order)."""
    entries = np.empty(offsets[-1], np.int32)
    cursor = offsets[:-1].copy()
    mask = np.uint64(0xFFFF)
    for k in range(order.shape[0]):
        packed = tiles[k]
        tx0, tx1 = np.int64(packed & mask), np.int64((packed >> 16) & mask)
        ty0, ty1 = np.int64((packed >> 32) & mask), np.int64(packed >> 48)
        for ty in range(ty0, ty1 + 1):
            for tx in range(tx0, tx1 + 1):
                t = ty * tiles_x + tx
                entries[cursor[t]] = order[k]
                cursor[t] += 1
    return entries


def bin_tiles(projection: Projection, width: int, height: int) -> TileBins:
    """Sort the visible splats of ``projection`` by depth and list them per 16x16 tile."""
    tiles_x = (width + TILE_SIZE - 1) // TILE_SIZE
    tiles_y = (height + TILE_SIZE - 1) // TILE_SIZE
    records = projection.records
    order, depth, tiles, counts = _collect(
        records, records.view(np.int32), tiles_x, tiles_x * tiles_y
    )
    order, tiles = _sort_by_depth(depth, order, tiles)
    offsets = np.cumsum(counts)
    return TileBins(records, offsets, _fill_tiles(order, tiles, offsets, tiles_x), tiles_x, tiles_y)
