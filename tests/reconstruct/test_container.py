"""Open containers found whole from their walls: a tray whose walls the fusion left in 3-5
pieces (the reduced synthetic build's), joined by gaps or by wall stretches too low to be
candidates, is one candidate and one object of level walls and a thin floor, without the
table beside it; boxes side by side, a can beside a tray and an L of two walls stay as they
are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from reconstruct.container import ContainerConfig, container_solid, enclosed_share, enclosures
from reconstruct.errors import ReconstructError
from reconstruct.segment import SegmentConfig, find_candidates, surface_samples
from reconstruct.units import Units
from tests.reconstruct.test_objects import box_mesh, run_stage, table_mesh, to_open3d

CENTRE, YAW = np.array([0.6, 0.17]), 10.0  # the synthetic tray's scan pose
SIZE, WALL, FLOOR = (0.19, 0.14), 0.01, 0.004  # outer x, y; a floor at the table + 4 mm
# each wall's cuts: positions along it (m from its middle), each leaving a 2.5 cm gap
CUTS = {
    3: {"+y": (0.0,), "+x": (0.0,), "-x": (-0.03,)},
    4: {"+y": (0.0,), "-y": (0.0,), "+x": (0.0,), "-x": (0.0,)},
    5: {"+y": (0.0,), "-y": (-0.04, 0.05), "+x": (0.0,), "-x": (0.0,)},
}
HEIGHTS = (0.042, 0.037, 0.04, 0.036, 0.044)  # the pieces' tops dip unevenly, as fused ones do


def placed(mesh: trimesh.Trimesh, at=CENTRE, yaw: float = YAW) -> trimesh.Trimesh:
    mesh = mesh.copy()
    mesh.apply_transform(trimesh.transformations.rotation_matrix(np.radians(yaw), (0, 0, 1)))
    mesh.apply_translation((*at, 0.0))
    return mesh


def block(lo, hi) -> trimesh.Trimesh:
    box = trimesh.creation.box(np.subtract(hi, lo)).subdivide().subdivide()
    box.apply_translation(np.add(lo, hi) / 2)
    return box


def spans(length: float, cuts: tuple[float, ...], gap: float = 0.025) -> list[tuple[float, float]]:
    """The stretches of a wall ``length`` long (centred at 0) left between ``cuts``."""
    edges = [-length / 2, *[e for c in sorted(cuts) for e in (c - gap / 2, c + gap / 2)]]
    edges.append(length / 2)
    return list(zip(edges[::2], edges[1::2], strict=True))


def cut_tray(
    cuts: dict[str, tuple[float, ...]],
    heights: tuple[float, ...] = HEIGHTS,
    gap: float = 0.025,
    low: float = 0.0,
) -> trimesh.Trimesh:
    """The tray in its frame: its walls cut at ``cuts`` (``gap`` wide; the stretches between
    by turns ``heights`` high, the cut-out ones ``low``, none when 0) and its floor at the
    table's height. The long walls run the whole length, the short ones between them."""
    (lx, ly), k = SIZE, 0
    parts = [block((-lx / 2, -ly / 2, 0), (lx / 2, ly / 2, FLOOR))]
    for side in ("+y", "+x", "-y", "-x"):
        long = side[1] == "y"
        length = lx if long else ly - 2 * WALL
        sign = 1 if side[0] == "+" else -1
        stretches = []
        for a, b in spans(length, cuts.get(side, ()), gap):
            stretches.append((a, b, heights[k % len(heights)]))
            k += 1
        if low:
            stretches += [(c - gap / 2, c + gap / 2, low) for c in cuts.get(side, ())]
        for a, b, height in stretches:
            if long:
                y0 = sign * (ly / 2) - (WALL if sign > 0 else 0)
                parts.append(block((a, y0, 0), (b, y0 + WALL, height)))
            else:
                x0 = sign * (lx / 2) - (WALL if sign > 0 else 0)
                parts.append(block((x0, a, 0), (x0 + WALL, b, height)))
    return trimesh.util.concatenate(parts)


def true_centroid(h: float) -> np.ndarray:
    """The world centroid of the tray: walls ``h`` high all round and its floor."""
    (lx, ly) = SIZE
    outer, cavity = lx * ly * h, (lx - 2 * WALL) * (ly - 2 * WALL) * (h - FLOOR)
    z = (outer * h / 2 - cavity * (FLOOR + h) / 2) / (outer - cavity)
    return np.array([*CENTRE, z])


def candidates_of(*meshes: trimesh.Trimesh, config: SegmentConfig | None = None):
    scene = trimesh.util.concatenate([table_mesh(), *meshes])
    points, colors, _ = surface_samples(to_open3d(scene), 0.002)
    return find_candidates(points, colors, config or SegmentConfig())


def footprint_corners(solid) -> np.ndarray:
    """``[4, 2]`` world corners of the solid's footprint box (body frame, about its origin)."""
    rows, cols = np.nonzero(solid.footprint)
    lo = solid.grid_origin + np.array([cols.min(), rows.min()]) * solid.cell
    hi = solid.grid_origin + np.array([cols.max() + 1, rows.max() + 1]) * solid.cell
    body = np.array([[lo[0], lo[1], 0], [hi[0], lo[1], 0], [hi[0], hi[1], 0], [lo[0], hi[1], 0]])
    return solid.to_world(body)[:, :2]


@pytest.mark.parametrize("pieces", [3, 4, 5])
def test_a_tray_in_pieces_is_one_container_where_the_tray_is(pieces: int) -> None:
    found = candidates_of(placed(cut_tray(CUTS[pieces])))
    # without the walls joined, each piece is a candidate of its own
    apart = candidates_of(
        placed(cut_tray(CUTS[pieces])),
        config=SegmentConfig(container=ContainerConfig(min_enclosed=1.0, min_floor=1.0)),
    )
    assert len(apart) == pieces and all(c.pieces == 1 for c in apart)
    assert len(found) == 1 and found[0].pieces == pieces and not found[0].scenery
    solid = container_solid(found[0].points, ContainerConfig())
    assert solid is not None and solid.floor is not None and solid.mesh.is_watertight
    assert (np.degrees(solid.yaw) - YAW + 45) % 90 - 45 == pytest.approx(0, abs=0.5)
    true_corners = placed(trimesh.creation.box((*SIZE, 0.01))).vertices[:, :2]
    for corner in footprint_corners(solid):  # whole cells: up to 4 mm out a side
        assert np.linalg.norm(true_corners - corner, axis=1).min() < 0.006
    # walls and a thin floor: not a block, and nothing of the table beside it
    floor = solid.heights[solid.floor]
    assert np.all(floor == pytest.approx(ContainerConfig().floor_thickness))
    assert solid.floor.sum() > 0.5 * solid.footprint.sum()
    assert solid.mesh.bounds[1][2] == pytest.approx(max(HEIGHTS), abs=0.004)
    # the pieces' unlike tops pull the centroid 2-5 mm towards the taller; walls of one
    # height give the tray's
    (even,) = candidates_of(placed(cut_tray(CUTS[pieces], heights=(0.04,))))
    solid = container_solid(even.points, ContainerConfig())
    centroid = solid.to_world(solid.mesh.center_mass[None])[0]
    truth = true_centroid(0.04)
    assert np.linalg.norm(centroid[:2] - truth[:2]) < 0.002
    assert abs(centroid[2] - truth[2]) < 0.003


def test_boxes_side_by_side_or_around_a_gap_stay_apart() -> None:
    pair = [box_mesh(0.4 + dx, 0.0, 0.0, (0.05, 0.05, 0.06)) for dx in (0.0, 0.07)]
    found = candidates_of(*pair)  # 2 cm apart: two candidates, not joined
    assert len(found) == 2 and all(c.pieces == 1 for c in found)
    config = ContainerConfig()
    touching = [box_mesh(0.4 + dx, 0.0, 0.0, (0.05, 0.05, 0.06)) for dx in (0.0, 0.053)]
    samples = np.concatenate([surface_samples(to_open3d(b), 0.002)[0] for b in touching])
    assert enclosures(samples, config) == [] and container_solid(samples, config) is None
    # three boxes around an empty patch enclose it, but boxes are no walls
    u = [box_mesh(x, y, 0.0, (0.05, 0.05, 0.06)) for x, y in ((0.3, 0), (0.36, 0.06), (0.3, 0.12))]
    samples = np.concatenate([surface_samples(to_open3d(b), 0.002)[0] for b in u])
    assert enclosures(samples, config) == []


def test_a_can_beside_the_tray_stays_its_own_candidate() -> None:
    can = trimesh.creation.cylinder(radius=0.028, height=0.09, sections=48).subdivide()
    can.apply_translation((0.0, 0.0, 0.045))
    # 2 cm from the tray's +x wall: within max_gap of its walls (closer than the segment's
    # merge_gap, 1.5 cm, it is one cluster with the pieces beside it before walls are joined)
    can = placed(
        can, at=CENTRE + 0.145 * np.array([np.cos(np.radians(YAW)), np.sin(np.radians(YAW))])
    )
    found = candidates_of(placed(cut_tray(CUTS[4])), can)
    assert sorted(c.pieces for c in found) == [1, 4]
    tray = next(c for c in found if c.pieces == 4)
    alone = next(c for c in found if c.pieces == 1)
    assert np.linalg.norm(alone.centroid[:2] - can.centroid[:2]) < 0.004
    solid = container_solid(tray.points, ContainerConfig())
    centroid = solid.to_world(solid.mesh.center_mass[None])[0]
    assert np.linalg.norm(centroid[:2] - CENTRE) < 0.003


def test_an_l_of_two_walls_stays_two_candidates() -> None:
    """Two walls meeting at a corner enclose no floor (which side would it be?): they stay
    the two candidates they were; an objects file may merge them, and a solid of both is no
    container (the objects stage then builds their convex hull)."""
    (lx, ly), h = SIZE, 0.04
    walls = [
        block(
            (-lx / 2, -ly / 2, 0), (lx / 2 - 0.03, -ly / 2 + WALL, h)
        ),  # 3 cm short of the corner
        block((lx / 2 - WALL, -ly / 2 + 0.03, 0), (lx / 2, ly / 2, h)),
    ]
    found = candidates_of(*[placed(w) for w in walls])
    assert len(found) == 2 and all(c.pieces == 1 and not c.scenery for c in found)
    assert container_solid(np.concatenate([c.points for c in found]), ContainerConfig()) is None


def test_the_enclosed_share_tells_a_ring_a_u_and_an_l_apart() -> None:
    def rectangle(sides: str) -> tuple[np.ndarray, np.ndarray]:
        walls = np.zeros((80, 100), bool)
        for side, cells in {"b": np.s_[10:16, 10:90], "t": np.s_[64:70, 10:90],
                            "l": np.s_[10:70, 10:16], "r": np.s_[10:70, 84:90]}.items():  # fmt: skip
            if side in sides:
                walls[cells] = True
        floor = np.zeros_like(walls)
        floor[16:64, 16:84] = True
        return walls, floor

    shares = {sides: enclosed_share(*rectangle(sides)) for sides in ("btlr", "btl", "blr", "bl")}
    assert shares["btlr"] == 1.0
    assert min(shares["btl"], shares["blr"]) > ContainerConfig().min_enclosed > shares["bl"]


def test_containers_are_found_the_same_in_sfm_units(tmp_path: Path) -> None:
    scale = 40.0
    tray = placed(cut_tray(CUTS[4]))
    metric = candidates_of(tray)
    scene = trimesh.util.concatenate([table_mesh(), tray])
    scene.apply_scale(scale)
    points, colors, _ = surface_samples(to_open3d(scene), 0.002 * scale)
    big = find_candidates(points, colors, SegmentConfig().in_units(Units(scale, False)))
    assert [c.pieces for c in big] == [c.pieces for c in metric] == [4]
    solid = container_solid(big[0].points, ContainerConfig().in_units(Units(scale, False)))
    centroid = solid.to_world(solid.mesh.center_mass[None])[0] / scale
    assert np.linalg.norm(centroid[:2] - CENTRE) < 0.003


def test_bad_container_settings_name_the_field() -> None:
    with pytest.raises(ReconstructError, match="min_enclosed"):
        ContainerConfig(min_enclosed=1.5)
    with pytest.raises(ReconstructError, match="floor_thickness"):
        ContainerConfig(floor_thickness=0.02)


def test_the_stage_builds_the_tray_in_pieces_as_one_open_object(tmp_path: Path) -> None:
    from sim_env.splats import MeshSampling, gaussians_from_mesh

    tray = placed(cut_tray(CUTS[5]))
    mesh = trimesh.util.concatenate([table_mesh(), tray])
    summary, _ = run_stage(
        tmp_path, mesh, gaussians_from_mesh(mesh, MeshSampling(count=40000, seed=0))
    )
    assert [o["name"] for o in summary["objects"]] == ["object_0"]
    record = summary["objects"][0]
    assert record["container"] and record["hulls"] >= 5
    assert summary["candidates"][0]["pieces"] == 5
    assert np.linalg.norm(np.subtract(record["centroid_m"][:2], CENTRE)) < 0.003
    assert np.allclose(sorted(record["extents_m"][:2]), sorted(SIZE), atol=0.009)  # whole cells


def test_pieces_joined_by_low_wall_stretches_are_one_container() -> None:
    """The reduced build's tray: its walls' middles fused 1-1.5 cm high, under the seed
    height, so only its corners are candidates, 8 cm apart (farther than max_gap)."""
    tray = placed(cut_tray(CUTS[4], heights=(0.04,), gap=0.08, low=0.012))
    found = candidates_of(tray)
    assert len(found) == 1 and found[0].pieces == 4
    solid = container_solid(found[0].points, ContainerConfig())
    centroid = solid.to_world(solid.mesh.center_mass[None])[0]
    assert np.linalg.norm(centroid[:2] - CENTRE) < 0.002
    # the walls stand level at the corners' height
    assert np.ptp(solid.heights[solid.footprint & ~solid.floor]) == 0.0
    assert solid.heights.max() == pytest.approx(0.04, abs=0.002)


def test_the_table_beside_a_tray_is_not_part_of_it() -> None:
    """The full twin's tray took the table along (its floor's prism 3 cm wider than the tray,
    the fused table 7 mm up beside two walls): the container is walls and floor only."""
    (lx, ly) = SIZE
    skirt = [
        block((lx / 2, -ly / 2, 0), (lx / 2 + 0.02, ly / 2 + 0.02, 0.007)),
        block((-lx / 2, ly / 2, 0), (lx / 2, ly / 2 + 0.02, 0.007)),
    ]
    tray = placed(trimesh.util.concatenate([cut_tray({}, heights=(0.04,)), *skirt]))
    (found,) = candidates_of(tray)
    solid = container_solid(found.points, ContainerConfig())
    centroid = solid.to_world(solid.mesh.center_mass[None])[0]
    assert np.linalg.norm(centroid[:2] - CENTRE) < 0.002
    assert np.allclose(solid.mesh.extents[:2], SIZE, atol=0.009)  # whole cells


def test_a_hollow_box_beside_the_tray_stays_its_own_candidate() -> None:
    """A box whose fused top is missing leaves thin walls too; 4 cm beyond the tray's wall
    (within max_gap, so closing the gaps bridges to it) it stays its own candidate and out of
    the tray's samples: the kitchen's purple box, 4 cm from the crate, was taken into the crate
    and two objects claimed one candidate."""
    outer, wall, height = (0.075, 0.05), 0.01, 0.04
    sides = [
        block((-outer[0] / 2, -outer[1] / 2, 0), (outer[0] / 2, -outer[1] / 2 + wall, height)),
        block((-outer[0] / 2, outer[1] / 2 - wall, 0), (outer[0] / 2, outer[1] / 2, height)),
        block((-outer[0] / 2, -outer[1] / 2, 0), (-outer[0] / 2 + wall, outer[1] / 2, height)),
        block((outer[0] / 2 - wall, -outer[1] / 2, 0), (outer[0] / 2, outer[1] / 2, height)),
    ]
    direction = np.array([np.cos(np.radians(YAW)), np.sin(np.radians(YAW))])
    at = CENTRE - (SIZE[0] / 2 + 0.04 + outer[0] / 2) * direction
    hollow = placed(trimesh.util.concatenate(sides), at=at)
    found = candidates_of(placed(cut_tray(CUTS[4])), hollow)
    tray = next(c for c in found if c.pieces == 4)
    assert np.linalg.norm(tray.centroid[:2] - CENTRE) < 0.01
    assert (tray.points[:, :2] @ direction > CENTRE @ direction - SIZE[0] / 2 - 0.02).all()
    assert any(np.linalg.norm(c.centroid[:2] - at) < 0.01 for c in found if c is not tray)


def smeared_tray() -> tuple[np.ndarray, np.ndarray]:
    """The fused samples and splat centres (``[P, 3]``, ``[S, 3]`` world) of a tray whose
    fused +x and +y walls stand 1.5 and 1 cm thick outside the true ones, 3 cm high (the
    synthetic tray's full build: the +x wall's outer face 1.5 cm out), while the splats sit
    on the true tray's surface, with five lone ones 1-2 cm out."""
    (lx, ly), h = SIZE, 0.04
    smear = [
        block((lx / 2, -ly / 2, 0), (lx / 2 + 0.015, ly / 2 + 0.01, 0.03)),
        block((-lx / 2, ly / 2, 0), (lx / 2, ly / 2 + 0.01, 0.03)),
    ]
    (found,) = candidates_of(placed(trimesh.util.concatenate([cut_tray({}, (h,)), *smear])))
    on_surface, _ = trimesh.sample.sample_surface_even(cut_tray({}, (h,)), 1200, seed=0)
    lone = np.c_[lx / 2 + np.array([0.01, 0.015, 0.02, 0.012, 0.018]),
                 [-0.05, -0.02, 0.01, 0.035, 0.06], np.full(5, 0.02)]  # fmt: skip
    splats = placed(trimesh.PointCloud(np.r_[on_surface, lone])).vertices
    return found.points, np.asarray(splats)


def test_the_splats_place_walls_the_fusion_smeared() -> None:
    samples, splats = smeared_tray()
    truth = true_centroid(0.04)
    fused = container_solid(samples, ContainerConfig())
    centroid = fused.to_world(fused.mesh.center_mass[None])[0]
    assert np.linalg.norm(centroid[:2] - truth[:2]) > 0.004  # the smear pulls it out
    solid = container_solid(samples, ContainerConfig(), support=splats)
    assert solid is not None and solid.floor is not None and solid.mesh.is_watertight
    centroid = solid.to_world(solid.mesh.center_mass[None])[0]
    # whole cells cut at the splats' hull: each side up to half a cell (2 mm) out or in
    assert np.linalg.norm(centroid[:2] - truth[:2]) < 0.0025
    assert np.allclose(solid.mesh.extents[:2], SIZE, atol=0.004)
    assert (np.degrees(solid.yaw) - YAW + 45) % 90 - 45 == pytest.approx(0, abs=0.5)
    # too few splats on the walls to place them: the fused walls' solid
    sparse = container_solid(samples, ContainerConfig(), support=splats[:: len(splats) // 20])
    assert np.array_equal(sparse.footprint, fused.footprint) and sparse.yaw == fused.yaw
