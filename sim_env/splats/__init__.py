"""Gaussian splats for sim_env: PLY I/O, a numba CPU rasterizer with gsplat's semantics and
the gsplat CUDA path behind one ``rasterize``, rigid motion of subsets, a mesh-to-Gaussians
converter and an optional level of detail for low-resolution cameras."""

from sim_env.splats.from_mesh import MeshSampling, gaussians_from_mesh
from sim_env.splats.gaussians import (
    GaussianSet,
    RawGaussians,
    activate_opacities,
    activate_scales,
    concat,
    log_scales,
    logit_opacities,
    normalize_quats,
    rgb_to_sh0,
    sh0_to_rgb,
)
from sim_env.splats.gpu import gsplat_cuda_available
from sim_env.splats.lod import LodConfig, merge_for_camera
from sim_env.splats.ply import read_ply, write_ply
from sim_env.splats.rasterize import Backend, DepthMode, rasterize
from sim_env.splats.transform import rotate_sh, sh_band_rotation, transform, transform_subset

__all__ = [
    "Backend",
    "DepthMode",
    "GaussianSet",
    "LodConfig",
    "MeshSampling",
    "RawGaussians",
    "activate_opacities",
    "activate_scales",
    "concat",
    "gaussians_from_mesh",
    "gsplat_cuda_available",
    "log_scales",
    "logit_opacities",
    "merge_for_camera",
    "normalize_quats",
    "rasterize",
    "read_ply",
    "rgb_to_sh0",
    "rotate_sh",
    "sh0_to_rgb",
    "sh_band_rotation",
    "transform",
    "transform_subset",
    "write_ply",
]
