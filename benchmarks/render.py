"""Splat rendering benchmarks: one JSON line per figure.

    python -m benchmarks.render            # full grid: 50k/200k/1M Gaussians x 3 resolutions
    python -m benchmarks.render --quick    # fewer frames, 50k and 200k only
    python -m benchmarks.render --threads 1  # one core (steadier on a shared machine)

Each case is a function returning figures; add a case by adding a function to ``CASES``.
The scene is a synthetic tabletop built with the mesh converter (a textured table top and
coloured objects, mostly tiny flat Gaussians), seen from 0.5-1 m like DROID's exterior camera.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

import numba
import numpy as np
import trimesh
from PIL import Image

from sim_env.splats import GaussianSet, concat, rasterize
from sim_env.splats.binning import bin_tiles
from sim_env.splats.blend import blend
from sim_env.splats.constants import EPS2D, FAR_PLANE, NEAR_PLANE
from sim_env.splats.from_mesh import MeshSampling, gaussians_from_mesh
from sim_env.splats.gpu import gsplat_cuda_available
from sim_env.splats.lod import LodConfig, merge_for_camera
from sim_env.splats.project import project

RESOLUTIONS = {"224x224": (224, 224), "320x180": (320, 180), "1280x720": (1280, 720)}
COUNTS = {"50k": 50_000, "200k": 200_000, "1M": 1_000_000}
EXTERIOR = "exterior_image_1_left"


@dataclass(frozen=True)
class Settings:
    frames: int  # timed frames per case at most (median reported)
    warmup: int
    counts: tuple[str, ...]
    seconds: float  # stop timing a case after this long (at least 3 frames)


def _figure(case: str, metric: str, value: float, unit: str) -> dict:
    return {
        "bench": "render",
        "case": case,
        "metric": metric,
        "value": round(value, 3),
        "unit": unit,
    }


def _wood_texture(size: int = 256, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    v = np.linspace(0, 1, size)[:, None]
    grain = 0.5 + 0.5 * np.sin(
        2 * np.pi * (14 * v + 0.3 * rng.normal(0, 1, (1, size)).cumsum(1) / size)
    )
    base = np.array([0.55, 0.38, 0.22]) * (0.8 + 0.2 * grain[..., None])
    return Image.fromarray((np.clip(base, 0, 1) * 255).astype(np.uint8))


def _table_top() -> trimesh.Trimesh:
    plane = trimesh.creation.box(extents=(1.2, 0.8, 0.03))
    plane.apply_translation((0, 0, -0.015))
    uv = (plane.vertices[:, :2] - plane.vertices[:, :2].min(0)) / np.ptp(plane.vertices[:, :2], 0)
    material = trimesh.visual.material.SimpleMaterial(image=_wood_texture())
    plane.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    return plane


def _objects() -> list[trimesh.Trimesh]:
    box = trimesh.creation.box(extents=(0.08, 0.08, 0.08))
    box.apply_translation((0.12, 0.05, 0.04))
    box.visual.face_colors = (200, 40, 40, 255)
    can = trimesh.creation.cylinder(radius=0.033, height=0.12, sections=48)
    can.apply_translation((-0.1, 0.1, 0.06))
    can.visual.vertex_colors = np.c_[
        (40 + 180 * (can.vertices[:, 2] > 0)).astype(np.uint8), np.full((len(can.vertices), 2), 60), np.full(len(can.vertices), 255)
    ]  # fmt: skip
    ball = trimesh.creation.icosphere(subdivisions=3, radius=0.04)
    ball.apply_translation((0.0, -0.1, 0.04))
    ball.visual.face_colors = (40, 160, 60, 255)
    bowl = trimesh.creation.annulus(r_min=0.06, r_max=0.08, height=0.05, sections=48)
    bowl.apply_translation((-0.2, -0.08, 0.025))
    bowl.visual.face_colors = (230, 210, 60, 255)
    return [box, can, ball, bowl]


@cache
def tabletop(count: int, seed: int = 0) -> GaussianSet:
    """``count`` Gaussians on a 1.2 x 0.8 m textured table with four objects, area-weighted."""
    meshes = [_table_top(), *_objects()]
    areas = np.array([m.area for m in meshes])
    counts = np.maximum(np.round(count * areas / areas.sum()).astype(int), 1)
    counts[0] += count - counts.sum()
    return concat(
        [
            gaussians_from_mesh(m, MeshSampling(int(c), seed=seed + i))
            for i, (m, c) in enumerate(zip(meshes, counts, strict=True))
        ]
    )


def exterior_camera(width: int, height: int, fov_x_deg: float = 70.0):
    """DROID-like exterior view: 0.8 m from the table centre, 30 degrees down. -> (viewmat, K)."""
    eye = np.array([0.0, -0.7, 0.4])
    target = np.array([0.0, 0.0, 0.03])
    fwd = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(fwd, (0, 0, 1.0))
    right /= np.linalg.norm(right)
    rot = np.stack([right, np.cross(fwd, right), fwd])
    view = np.eye(4)
    view[:3, :3], view[:3, 3] = rot, -rot @ eye
    f = 0.5 * width / np.tan(np.radians(fov_x_deg) / 2)
    K = np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1.0]])
    return view, K


def _time(fn: Callable[[], object], settings: Settings) -> float:
    """Median seconds per call after the warm-up calls."""
    for _ in range(settings.warmup):
        fn()
    times: list[float] = []
    while len(times) < settings.frames and (len(times) < 3 or sum(times) < settings.seconds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _render(gs: GaussianSet, view: np.ndarray, K: np.ndarray, w: int, h: int, backend: str = "cpu"):
    return rasterize(
        gs.means, gs.quats, gs.scales, gs.opacities, gs.sh, view, K, w, h, backend=backend
    )


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


def cpu_fps(settings: Settings) -> Iterator[dict]:
    """CPU rasterizer frames per second over the resolution x Gaussian-count grid."""
    for count_name in settings.counts:
        gs = tabletop(COUNTS[count_name])
        for res_name, (w, h) in RESOLUTIONS.items():
            view, K = exterior_camera(w, h)
            seconds = _time(lambda g=gs, v=view, k=K, w=w, h=h: _render(g, v, k, w, h), settings)
            yield _figure(f"{res_name}_{count_name}", "cpu_fps", 1.0 / seconds, "fps")


def gsplat_fps(settings: Settings) -> Iterator[dict]:
    """gsplat's CUDA rasterizer over the same grid, called as the simulator calls it (numpy in
    and out), and its agreement with the CPU rasterizer; says so when there is no GPU."""
    available = gsplat_cuda_available()
    yield _figure("all", "gsplat_available", float(available), "bool")
    if not available:
        return
    for count_name in settings.counts:
        gs = tabletop(COUNTS[count_name])
        for res_name, (w, h) in RESOLUTIONS.items():
            view, K = exterior_camera(w, h)
            seconds = _time(
                lambda g=gs, v=view, k=K, w=w, h=h: _render(g, v, k, w, h, "gsplat"), settings
            )
            case = f"{res_name}_{count_name}"
            yield _figure(case, "gsplat_fps", 1.0 / seconds, "fps")
            gpu_rgb = _render(gs, view, K, w, h, "gsplat")[0]
            cpu_rgb = _render(gs, view, K, w, h)[0]
            yield _figure(case, "gsplat_vs_cpu_psnr", _psnr(gpu_rgb, cpu_rgb), "dB")


def cpu_breakdown(settings: Settings) -> Iterator[dict]:
    """Milliseconds per stage (projection, sort + bin, blend) for 224x224, 200k Gaussians."""
    gs = tabletop(COUNTS["200k"])
    w, h = RESOLUTIONS["224x224"]
    view, K = exterior_camera(w, h)
    bg = np.zeros(3, np.float32)

    def run_project():
        return project(
            gs.means,
            gs.quats,
            gs.scales,
            gs.opacities,
            gs.sh,
            0,
            view,
            K,
            w,
            h,
            NEAR_PLANE,
            FAR_PLANE,
            EPS2D,
        )

    projection = run_project()
    bins = bin_tiles(projection, w, h)
    stages = {
        "project_ms": run_project,
        "sort_bin_ms": lambda: bin_tiles(projection, w, h),
        "blend_ms": lambda: blend(bins, w, h, bg),
    }
    for metric, fn in stages.items():
        yield _figure("224x224_200k", metric, 1e3 * _time(fn, settings), "ms")
    rects = projection.rects
    yield _figure("224x224_200k", "visible", float(np.sum(rects[:, 0] <= rects[:, 1])), "gaussians")
    yield _figure("224x224_200k", "intersections", float(len(bins.entries)), "tile-gaussian pairs")


def cpu_lod(settings: Settings) -> Iterator[dict]:
    """The level-of-detail option at 224x224, 200k: size, speed and PSNR against exact."""
    gs = tabletop(COUNTS["200k"])
    w, h = RESOLUTIONS["224x224"]
    view, K = exterior_camera(w, h)
    exact = _render(gs, view, K, w, h)[0]
    for cell in (1.0, 2.0):
        start = time.perf_counter()
        lod = merge_for_camera(gs, view, K, LodConfig(cell_pixels=cell))
        build = time.perf_counter() - start
        case = f"224x224_200k_lod{cell:g}px"
        yield _figure(case, "gaussians", float(len(lod)), "gaussians")
        yield _figure(case, "build_ms", 1e3 * build, "ms")
        yield _figure(case, "psnr_vs_exact", _psnr(_render(lod, view, K, w, h)[0], exact), "dB")
        yield _figure(
            case, "cpu_fps", 1.0 / _time(lambda g=lod: _render(g, view, K, w, h), settings), "fps"
        )


def _splatted_env(count: int, size: tuple[int, int], root: str):
    """The primitive cube-and-bowl package with about ``count`` Gaussians sampled from its meshes."""
    from sim_env.env import EnvConfig, TwinEnv
    from sim_env.primitives import PrimitiveSceneConfig, write_primitive_package

    table_area_cm2 = 2 * (120 * 120 + 2 * 120 * 4)  # the table box dominates the surface
    config = PrimitiveSceneConfig(splat_density=count / table_area_cm2, n_initial_conditions=1)
    env = TwinEnv(write_primitive_package(root, config), EnvConfig(image_size=size))
    env.reset(options={"initial_condition": 0})
    return env


def hybrid_vs_mujoco(settings: Settings) -> Iterator[dict]:
    """The full hybrid observation (splats + MuJoCo robot, depth-composited) against MuJoCo's own
    RGB render of the same camera (shadows off), measured in the same run: with the default
    1-pixel level of detail for the static scene, and exact."""
    import tempfile

    from sim_env.render.config import HybridConfig
    from sim_env.render.hybrid import HybridRenderer
    from sim_env.render.mujoco_renderer import MujocoRenderer

    for count_name in [c for c in settings.counts if c != "1M"]:
        for res_name in ("224x224", "320x180"):
            size = RESOLUTIONS[res_name]
            with tempfile.TemporaryDirectory() as root:
                env = _splatted_env(COUNTS[count_name], size, f"{root}/pkg")
                mesh = MujocoRenderer(env.model)
                exact = HybridRenderer(env.package, env.scene, HybridConfig(lod_pixels=None))
                case = f"{res_name}_{count_name}"
                times = {
                    name: _time(
                        lambda r=renderer, e=env, s=size: r.render(e.data, EXTERIOR, s), settings
                    )
                    for name, renderer in (
                        ("mujoco", mesh),
                        ("hybrid", env.renderer),
                        ("exact", exact),
                    )
                }
                both_s = _time(env.images, settings)
                yield _figure(case, "mujoco_rgb_ms", times["mujoco"] * 1000, "ms")
                yield _figure(case, "hybrid_ms", times["hybrid"] * 1000, "ms")
                yield _figure(
                    case, "hybrid_to_mujoco_ratio", times["hybrid"] / times["mujoco"], "x"
                )
                yield _figure(case, "hybrid_exact_ms", times["exact"] * 1000, "ms")
                yield _figure(
                    case, "hybrid_exact_to_mujoco_ratio", times["exact"] / times["mujoco"], "x"
                )
                yield _figure(case, "hybrid_two_camera_fps", 1.0 / both_s, "fps")
                for renderer in (mesh, exact, env):
                    renderer.close()


CASES: tuple[Callable[[Settings], Iterator[dict]], ...] = (
    cpu_fps,
    gsplat_fps,
    cpu_breakdown,
    cpu_lod,
    hybrid_vs_mujoco,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames, no 1M case")
    parser.add_argument("--threads", type=int, help="numba threads (default: all cores)")
    parser.add_argument("--case", action="append", help="run only these cases (function names)")
    args = parser.parse_args(argv)
    if args.threads:
        numba.set_num_threads(args.threads)
    if args.quick:
        settings = Settings(frames=5, warmup=1, counts=("50k", "200k"), seconds=2.0)
    else:
        settings = Settings(frames=15, warmup=2, counts=tuple(COUNTS), seconds=10.0)
    print(json.dumps(_figure("all", "numba_threads", float(numba.get_num_threads()), "threads")))
    for case in CASES:
        if args.case and case.__name__ not in args.case:
            continue
        for figure in case(settings):
            print(json.dumps(figure), flush=True)


if __name__ == "__main__":
    main()
