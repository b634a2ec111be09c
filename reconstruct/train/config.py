"""Training settings, apart from the trainers so that reading a config imports no torch."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DensifyConfig:
    """When and how the Gaussian count changes (steps are training iterations).

    Attributes:
        start, stop, every: refine at steps start, start + every, ... below stop.
        grad_threshold: mean screen-space gradient (normalised device units) above which a
            Gaussian is cloned or split.
        grow_scale: Gaussians larger than this fraction of the scene scale are split.
        max_size: Gaussians larger than this fraction of the scene scale are split whatever
            their gradient: a Gaussian's rendered depth is its centre's, so a large disc on a
            plain, textureless surface biases the depth by about its size (toward the camera,
            as front-to-back blending favours the nearer centres).
        prune_opacity: Gaussians below this opacity are removed.
        prune_scale: Gaussians larger than this fraction of the scene scale are removed.
        max_gaussians: no growth beyond this count (the largest gradients go first).
    """

    start: int = 100
    stop: int = 500
    every: int = 100
    grad_threshold: float = 0.0002
    grow_scale: float = 0.01
    max_size: float = 0.008
    prune_opacity: float = 0.005
    prune_scale: float = 0.1
    max_gaussians: int = 60_000


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (learning rates as 3DGS / gsplat's defaults). Both trainers run
    the same loop (``reconstruct.train.loop``), so every field acts on either rasterizer.

    Attributes:
        iterations: optimisation steps, one view each.
        sh_degree: final SH degree (0 or 1 on the CPU, up to 3 with gsplat).
        sh_degree_step: step at which the final SH degree switches on (degree 0 before).
        ssim_weight: loss = (1 - w) L1 + w (1 - SSIM).
        depth_weight: weight of the relative error of the rendered expected depth at the
            SfM points each view sees (sparse depth supervision: it keeps the splats on the
            surfaces instead of a fog in front of them, which the mesh stage needs).
        flat_weight: weight of the mean smallest scale over the scene scale (flat, surface-
            hugging Gaussians).
        entropy_weight: weight of the mean binary entropy of the opacities (after
            ``sh_degree_step``): it drives opacities to 0 or 1, so that small objects become
            opaque surfaces instead of veils that mix their depth with the table behind.
        distortion_weight: weight of the mean depth distortion, sum_ij w_i w_j (z_i - z_j)^2
            per pixel with depths over the scene scale (2DGS's, from one extra render): it
            gathers each pixel's blending weights at one depth, so plain surfaces do not
            dissolve into layers of semi-transparent Gaussians.
        lr_means: means' learning rate per metre of scene scale, decayed to 1% at the end
            (5x 3DGS's: a few hundred CPU steps instead of 30 000 must still move Gaussians
            by centimetres, e.g. onto an object's top that SfM left without points).
        lr_scales, lr_quats, lr_opacities, lr_sh0, lr_sh_rest: per-field learning rates.
        densify: clone/split/prune schedule.
        appearance_lr: learning rate of a per-view affine colour map applied to each render
            before the loss (``appearance.Appearance``: each frame's exposure and white balance
            go into its map, the splats keep one neutral look; no map at render time); 0 off.
        antialiased: render in gsplat's "antialiased" mode while training (mip-splatting's 2D
            filter); the package then renders that way too, so the splats keep their look at
            resolutions below the training one (the policies' 160x90).
        smoothing_3d: train through mip-splatting's 3D filter (``train.smoothing``) and bake
            it into the result: no Gaussian finer than the training pixels that see it.
        seed: view order and split noise.
    """

    iterations: int = 600
    sh_degree: int = 1
    sh_degree_step: int = 300
    ssim_weight: float = 0.2
    depth_weight: float = 2.0
    flat_weight: float = 1.0
    entropy_weight: float = 0.05
    distortion_weight: float = 0.0
    lr_means: float = 8e-4
    lr_scales: float = 5e-3
    lr_quats: float = 1e-3
    lr_opacities: float = 5e-2
    lr_sh0: float = 2.5e-3
    lr_sh_rest: float = 2.5e-3 / 20
    densify: DensifyConfig = field(default_factory=DensifyConfig)
    appearance_lr: float = 0.0
    antialiased: bool = False
    smoothing_3d: bool = False
    seed: int = 0

    def learning_rates(self, scene_scale: float) -> dict[str, float]:
        """Initial learning rate per parameter (gsplat's names: means, scales, quats,
        opacities, sh0, shN); the means' rate is per metre of ``scene_scale``."""
        return {
            "means": self.lr_means * scene_scale,
            "scales": self.lr_scales,
            "quats": self.lr_quats,
            "opacities": self.lr_opacities,
            "sh0": self.lr_sh0,
            "shN": self.lr_sh_rest,
        }
