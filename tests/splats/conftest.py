"""Fixtures for the splat tests: a float64 brute-force reference renderer and random scenes.

The reference follows gsplat's semantics literally (its own SH formulas, gsplat's rounded-up
radius and tile ranges, a per-pixel walk over every Gaussian in depth order) and shares no
code with ``sim_env.splats``, so agreement means the fast renderer's shortcuts are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

TILE = 16


def _sh_colors(degree: int, dirs: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """gsplat's ``_spherical_harmonics`` in float64: dirs [N, 3], coeffs [N, K, 3] -> [N, 3]."""
    x, y, z = (dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)).T
    bases = [np.full_like(x, 0.2820947917738781)]
    if degree >= 1:
        c = 0.48860251190292
        bases += [-c * y, c * z, -c * x]
    if degree >= 2:
        z2, c1, s1 = z * z, x * x - y * y, 2 * x * y
        bases += [
            0.5462742152960395 * s1,
            -1.092548430592079 * z * y,
            0.9461746957575601 * z2 - 0.3153915652525201,
            -1.092548430592079 * z * x,
            0.5462742152960395 * c1,
        ]
    if degree >= 3:
        c2, s2 = x * c1 - y * s1, x * s1 + y * c1
        tmp_c = -2.285228997322329 * z2 + 0.4570457994644658
        bases += [
            -0.5900435899266435 * s2,
            1.445305721320277 * z * s1,
            tmp_c * y,
            z * (1.865881662950577 * z2 - 1.119528997770346),
            tmp_c * x,
            1.445305721320277 * z * c1,
            -0.5900435899266435 * c2,
        ]
    basis = np.stack(bases, axis=-1)  # [N, (degree+1)^2]
    return np.einsum("nk,nkc->nc", basis, coeffs[:, : basis.shape[1]])


def reference_render(
    means,
    quats,
    scales,
    opacities,
    colors,
    viewmat,
    K,
    width,
    height,
    background=None,
    sh_degree=None,
    near=0.01,
    far=1e10,
    antialiased=False,
):
    """Float64 rasterization with gsplat's semantics -> rgb [H, W, 3], ED depth, alpha.
    ``antialiased``: gsplat's "antialiased" mode, opacities scaled by
    sqrt(det(cov2d) / det(cov2d + 0.3 I)) before culling, the radius and blending."""
    f64 = np.float64
    means, quats, scales = (np.asarray(a, f64) for a in (means, quats, scales))
    opacities, colors = np.asarray(opacities, f64), np.asarray(colors, f64)
    viewmat, K = np.asarray(viewmat, f64), np.asarray(K, f64)
    w, x, y, z = (quats / np.linalg.norm(quats, axis=-1, keepdims=True)).T
    rot = np.stack(
        [
            1 - 2 * (y * y + z * z),
            2 * (x * y - w * z),
            2 * (x * z + w * y),
            2 * (x * y + w * z),
            1 - 2 * (x * x + z * z),
            2 * (y * z - w * x),
            2 * (x * z - w * y),
            2 * (y * z + w * x),
            1 - 2 * (x * x + y * y),
        ],
        -1,
    ).reshape(-1, 3, 3)
    m = rot * scales[:, None, :]
    cov = m @ m.transpose(0, 2, 1)
    rv, tv = viewmat[:3, :3], viewmat[:3, 3]
    mc = means @ rv.T + tv
    cov_c = rv @ cov @ rv.T
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    tx, ty, tz = mc.T
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lim_x = ((width - cx) / fx + 0.15 * width / fx, cx / fx + 0.15 * width / fx)
        lim_y = ((height - cy) / fy + 0.15 * height / fy, cy / fy + 0.15 * height / fy)
        txc = tz * np.clip(tx / tz, -lim_x[1], lim_x[0])
        tyc = tz * np.clip(ty / tz, -lim_y[1], lim_y[0])
        jac = np.zeros((len(means), 2, 3))
        jac[:, 0, 0] = fx / tz
        jac[:, 0, 2] = -fx * txc / tz**2
        jac[:, 1, 1] = fy / tz
        jac[:, 1, 2] = -fy * tyc / tz**2
        cov2d = jac @ cov_c @ jac.transpose(0, 2, 1)
        det_orig = cov2d[:, 0, 0] * cov2d[:, 1, 1] - cov2d[:, 0, 1] ** 2
        cov2d = cov2d + 0.3 * np.eye(2)
        det = cov2d[:, 0, 0] * cov2d[:, 1, 1] - cov2d[:, 0, 1] ** 2
        if antialiased:
            opacities = opacities * np.sqrt(np.maximum(det_orig / det, 0.0))
        conic = np.stack([cov2d[:, 1, 1], -cov2d[:, 0, 1], cov2d[:, 0, 0]], -1) / det[:, None]
        mean2d = np.stack([fx * tx / tz + cx, fy * ty / tz + cy], -1)
        extend = np.minimum(3.33, np.sqrt(2 * np.log(np.maximum(opacities, 1e-30) * 255)))
        radius = np.ceil(extend[:, None] * np.sqrt(np.stack([cov2d[:, 0, 0], cov2d[:, 1, 1]], -1)))
    valid = (tz >= near) & (tz <= far) & (det > 0) & (opacities >= 1 / 255)
    valid &= (radius[:, 0] > 0) | (radius[:, 1] > 0)
    valid &= (mean2d[:, 0] + radius[:, 0] > 0) & (mean2d[:, 0] - radius[:, 0] < width)
    valid &= (mean2d[:, 1] + radius[:, 1] > 0) & (mean2d[:, 1] - radius[:, 1] < height)
    if sh_degree is None and colors.ndim == 3:
        sh_degree = round(np.sqrt(colors.shape[1])) - 1
    if colors.ndim == 3:
        campos = -rv.T @ tv
        rgb_g = np.maximum(_sh_colors(sh_degree, means - campos, colors) + 0.5, 0.0)
    else:
        rgb_g = colors
    tiles_x, tiles_y = -(-width // TILE), -(-height // TILE)
    ys, xs = np.mgrid[0:height, 0:width]
    pix_tx, pix_ty = (xs // TILE).ravel(), (ys // TILE).ravel()
    px, py = xs.ravel() + 0.5, ys.ravel() + 0.5
    trans = np.ones(px.size)
    acc = np.zeros((px.size, 4))
    done = np.zeros(px.size, bool)
    for g in np.flatnonzero(valid)[np.argsort(tz[valid], kind="stable")]:
        t_min = np.clip(np.floor((mean2d[g] - radius[g]) / TILE), 0, (tiles_x, tiles_y))
        t_max = np.clip(np.ceil((mean2d[g] + radius[g]) / TILE), 0, (tiles_x, tiles_y))
        in_tile = (pix_tx >= t_min[0]) & (pix_tx < t_max[0])
        in_tile &= (pix_ty >= t_min[1]) & (pix_ty < t_max[1])
        dx, dy = mean2d[g, 0] - px, mean2d[g, 1] - py
        a, b, c = conic[g]
        sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
        alpha = np.minimum(0.999, opacities[g] * np.exp(-sigma))
        hit = in_tile & ~done & (sigma >= 0) & (alpha >= 1 / 255)
        next_t = trans * (1 - alpha)
        finished = hit & (next_t <= 1e-4)
        done |= finished
        hit &= ~finished
        wgt = np.where(hit, alpha * trans, 0.0)
        acc[:, :3] += wgt[:, None] * rgb_g[g]
        acc[:, 3] += wgt * tz[g]
        trans = np.where(hit, next_t, trans)
    bg = np.zeros(3) if background is None else np.asarray(background, f64)
    alpha_img = 1 - trans
    rgb = acc[:, :3] + trans[:, None] * bg
    depth = acc[:, 3] / np.maximum(alpha_img, 1e-10)
    return (
        rgb.reshape(height, width, 3),
        depth.reshape(height, width),
        alpha_img.reshape(height, width),
    )


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 1.0) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


@dataclass(frozen=True)
class Camera:
    viewmat: np.ndarray  # [4, 4] world -> camera
    K: np.ndarray  # [3, 3]
    width: int
    height: int


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World-to-camera [4, 4] (OpenCV: x right, y down, z forward) looking from eye at target."""
    eye, target, up = (np.asarray(v, np.float64) for v in (eye, target, up))
    fwd = target - eye
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    rot = np.stack([right, down, fwd])
    view = np.eye(4)
    view[:3, :3] = rot
    view[:3, 3] = -rot @ eye
    return view


def make_camera(width=64, height=48, fov_x_deg=60.0, eye=(0.0, -1.5, 0.6), target=(0, 0, 0)):
    fx = 0.5 * width / np.tan(np.radians(fov_x_deg) / 2)
    K = np.array([[fx, 0, width / 2 + 0.3], [0, fx, height / 2 - 0.2], [0, 0, 1]])
    return Camera(look_at(eye, target), K, width, height)


def random_scene(seed: int, n: int, camera: Camera, sh_degree: int | None = 0):
    """Random Gaussians around the origin plus hard cases: behind the camera, straddling the
    near plane, huge, tiny, nearly transparent. Returns a dict of rasterize() arguments
    (colors are SH coefficients when sh_degree is not None, plain RGB otherwise)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 0.35, (n, 3))
    log_scale = rng.uniform(np.log(0.004), np.log(0.12), (n, 3))
    opacities = rng.uniform(0.05, 1.0, n)
    cam_to_world = np.linalg.inv(camera.viewmat)
    eye, fwd = cam_to_world[:3, 3], cam_to_world[:3, 2]
    k = max(n // 20, 1)
    means[:k] = eye - fwd * rng.uniform(0.05, 0.5, (k, 1)) + rng.normal(0, 0.1, (k, 3))
    means[k : 2 * k] = eye + fwd * rng.uniform(0.0, 0.03, (k, 1)) + rng.normal(0, 0.02, (k, 3))
    log_scale[2 * k : 3 * k] = np.log(rng.uniform(0.3, 1.0, (k, 3)))  # huge
    log_scale[3 * k : 4 * k] = np.log(1e-5)  # far below a pixel
    opacities[4 * k : 5 * k] = rng.uniform(0.0, 0.01, k)
    opacities[5 * k : 6 * k] = 1.0
    quats = rng.normal(size=(n, 4))
    if sh_degree is None:
        colors = rng.uniform(0, 1, (n, 3))
    else:
        colors = rng.normal(0, 0.4, (n, (sh_degree + 1) ** 2, 3))
        colors[:, 0] = rng.normal(0, 1.2, (n, 3))
    f32 = np.float32
    return dict(
        means=means.astype(f32),
        quats=(quats / np.linalg.norm(quats, axis=1, keepdims=True)).astype(f32),
        scales=np.exp(log_scale).astype(f32),
        opacities=opacities.astype(f32),
        colors=colors.astype(f32),
        viewmat=camera.viewmat,
        K=camera.K,
        width=camera.width,
        height=camera.height,
    )


@pytest.fixture
def reference():
    return reference_render


@pytest.fixture
def psnr_fn():
    return psnr


@pytest.fixture
def camera_factory():
    return make_camera


@pytest.fixture
def scene_factory():
    return random_scene
