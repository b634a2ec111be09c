"""A simulated hand-held phone video of a package's table, rendered by MuJoCo.

The phone walks an orbit-like path around the workspace (speed, radius and height varying
smoothly), aims at a slowly wandering point, shakes a little (hand tremor), rolls a few
degrees; each frame averages sub-frames across the shutter time (motion blur) and goes
through a slowly drifting exposure and gamma, sensor noise and H.264. The robot is not in the
scan (it is mounted after), so its geoms are hidden. The true camera of every frame is
returned so tests can measure the reconstruction. An optional close pass follows the orbit
without a cut: the walker spirals in and down around the objects, as a user films what matters
closer (the orbit's 0.42 m height and ~0.7 m distance left the tray's weave and walls a few
pixels wide in the frames the splats learn from). An optional exterior pass comes last: the
walker goes on around to where the robot's exterior camera will stand and films from there,
swaying a little, aimed where that camera looks (the orbit passes that side once, in the
video's darkest stretch of exposure drift, and the twin's table and tray came out darker there
than the source shows that camera).

The phone sees the world lit as the evaluation's cameras see it (``sim_env.scene``'s lights:
the headlight that moves with the viewpoint, the top light, the materials' specular): the
twin is compared with those cameras, so its splats must learn the colours they show. A scan
lit otherwise (session 5's was matte, without the headlight) gave a twin 0.71-0.79x as
bright as the source world. The headlight's shading depends on the viewing direction, which
the splats' SH terms model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import mujoco
import numpy as np

from sim_env.cameras import add_camera, look_at, mat_to_quat, opencv_to_mujoco_quat, quat_to_mat
from sim_env.package import EnvPackage
from sim_env.package.schema import CameraSpec, Pose
from sim_env.render.mujoco_renderer import MujocoRenderer
from sim_env.scene import MESH_VISUAL_GROUP, SPLATTED_VISUAL_GROUP, PhysicsConfig, build_spec

PHONE = "phone"
BARE_DEPTH = -5.0  # m: where a bare table's objects are put (far under the table)


@dataclass(frozen=True)
class ClosePass:
    """A second lap after the orbit, closer to and lower around the objects.

    Attributes:
        duration_s: its length; the walker keeps the orbit's pace around.
        centre: the point it circles and aims at, metres (world).
        radius, height: distance from ``centre`` in xy and height above the table, m.
        ramp_s: how long the walk from the orbit in takes (a smooth blend, no cut: SfM
            matches each frame with its successors).
    """

    duration_s: float = 14.0
    centre: tuple[float, float, float] = (0.52, 0.0, 0.03)
    radius: float = 0.32
    height: float = 0.18
    ramp_s: float = 3.0


@dataclass(frozen=True)
class ExteriorPass:
    """A last segment filmed from around the exterior camera's own pose.

    Attributes:
        duration_s: its length, the walk there included.
        eye: where the exterior camera stands, metres (world).
        target: where its optical axis meets the table, metres (world): the phone aims there.
        sway_deg: the walker sways this far around the orbit's centre either side of ``eye``.
        sway_m: and this far up and down.
        ramp_s: how long the walk from the orbit (or the close pass) there takes (no cut).
    """

    duration_s: float = 8.0
    eye: tuple[float, float, float] = (0.6, -0.7, 0.55)
    target: tuple[float, float, float] = (0.6, 0.12, 0.0)
    sway_deg: float = 10.0
    sway_m: float = 0.05
    ramp_s: float = 4.0


@dataclass(frozen=True)
class ScanConfig:
    """The phone's path, optics and imaging.

    Attributes:
        duration_s, fps: video length and frame rate.
        size: (width, height) pixels; focal: focal length / width.
        centre: the point the path circles, metres (world).
        radius, height: mean distance from ``centre`` in xy and height above the table, m.
        sweep_deg: how far around the table the path goes; start_deg: where it starts.
        wobble: relative variation of radius and height along the path.
        shake_m, shake_deg: hand tremor amplitude (position, orientation).
        subframes: renders averaged per frame (motion blur over half the frame time).
        exposure: relative amplitude of the exposure drift.
        noise: sensor noise std (0..1 units).
        seed: random seed.
        close: a closer, lower pass around the objects after the orbit (None: the orbit only).
        exterior: a last pass from around the exterior camera's pose (None: none).
    """

    duration_s: float = 16.0
    fps: float = 30.0
    size: tuple[int, int] = (480, 360)
    focal: float = 0.85
    centre: tuple[float, float, float] = (0.38, 0.0, 0.02)
    radius: float = 0.55
    height: float = 0.42
    sweep_deg: float = 330.0
    start_deg: float = -160.0
    wobble: float = 0.12
    shake_m: float = 0.002
    shake_deg: float = 0.3
    subframes: int = 3
    exposure: float = 0.06
    noise: float = 0.008
    seed: int = 0
    close: ClosePass | None = None
    exterior: ExteriorPass | None = None

    @property
    def total_s(self) -> float:
        """The video's length: the orbit, the close pass and the exterior pass."""
        return self.exterior_start_s + (self.exterior.duration_s if self.exterior else 0.0)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ScanConfig:
        """The config ``ScanTruth.save`` recorded (its JSON ``config``)."""
        record = dict(record)
        passes = {"close": ClosePass, "exterior": ExteriorPass}
        for key, kind in passes.items():
            if record.get(key) is not None:
                fields = {k: tuple(v) if isinstance(v, list) else v for k, v in record[key].items()}
                record[key] = kind(**fields)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in record.items()})

    @property
    def exterior_start_s(self) -> float:
        """When the exterior pass starts: after the orbit and the close pass."""
        return self.duration_s + (self.close.duration_s if self.close else 0.0)


@dataclass(frozen=True, eq=False)
class ScanTruth:
    """What the simulated phone really did."""

    K: np.ndarray  # [3, 3] OpenCV pixel-centre convention
    size: tuple[int, int]
    cam_from_world: np.ndarray  # [F, 3, 4] at each frame's mid-exposure
    times: np.ndarray  # [F] s

    def save(self, path: Path, config: ScanConfig) -> None:
        path.write_text(
            json.dumps(
                {
                    "K": self.K.tolist(),
                    "size": list(self.size),
                    "cam_from_world": self.cam_from_world.tolist(),
                    "times": self.times.tolist(),
                    "config": asdict(config),
                }
            )
        )


def _smooth(t: np.ndarray, rng: np.random.Generator, freqs: tuple[float, ...]) -> np.ndarray:
    """Sum of sinusoids with random phases, amplitude ~1: smooth random motion over ``t``."""
    phases = rng.uniform(0, 2 * np.pi, len(freqs))
    out = sum(np.sin(2 * np.pi * f * t + p) for f, p in zip(freqs, phases, strict=True))
    return out / np.sqrt(len(freqs) / 2)


def camera_path(times: np.ndarray, config: ScanConfig) -> np.ndarray:
    """``[T, 3, 4]`` cam_from_world (OpenCV axes) at ``times`` seconds."""
    rng = np.random.default_rng(config.seed)
    s = times / config.duration_s
    pace = s + 0.03 * _smooth(times, rng, (0.07, 0.13))  # the walker slows and hurries
    angle = np.radians(config.start_deg + config.sweep_deg * pace)
    radius = config.radius * (1 + config.wobble * _smooth(times, rng, (0.05, 0.11)))
    height = config.height * (1 + config.wobble * _smooth(times, rng, (0.06, 0.09)))
    centre = np.broadcast_to(np.asarray(config.centre, float), (len(times), 3))
    if config.close is not None:  # after the orbit: blend towards the close lap (1 once in)
        close = config.close
        blend = np.clip((times - config.duration_s) / close.ramp_s, 0, 1)[:, None]
        blend = blend * blend * (3 - 2 * blend)  # smoothstep: no jerk at either end
        centre = centre + blend * (np.asarray(close.centre) - centre)
        radius = radius * (1 + blend[:, 0] * (close.radius / config.radius - 1))
        height = height * (1 + blend[:, 0] * (close.height / config.height - 1))
    aim_centre = centre
    if config.exterior is not None:
        angle, radius, height, centre, aim_centre = _to_exterior(
            times, config, config.exterior, angle, radius, height, centre
        )
    eye = np.c_[
        centre[:, 0] + radius * np.cos(angle), centre[:, 1] + radius * np.sin(angle), height
    ]
    wander = np.c_[_smooth(times, rng, (0.1,)), _smooth(times, rng, (0.08,)), 0 * s]
    aim = aim_centre + 0.04 * wander
    tremor = (3.1, 5.3, 7.9)
    eye = eye + config.shake_m * np.c_[[_smooth(times, rng, tremor) for _ in range(3)]].T
    roll = np.radians(3.0 * _smooth(times, rng, (0.2,)))
    jitter = np.radians(config.shake_deg) * np.c_[[_smooth(times, rng, tremor) for _ in range(2)]].T
    poses = []
    for e, a, r, (jx, jy) in zip(eye, aim, roll, jitter, strict=True):
        rot = quat_to_mat(look_at(e, a)).T  # rows: camera axes in world
        tilt = _axis_angle([0, 0, 1], r) @ _axis_angle([1, 0, 0], jx) @ _axis_angle([0, 1, 0], jy)
        rot = tilt.T @ rot
        poses.append(np.c_[rot, -rot @ e])
    return np.array(poses)


def _to_exterior(
    times: np.ndarray,  # [T] s
    config: ScanConfig,
    ext: ExteriorPass,
    angle: np.ndarray,  # [T] rad, the running path's polar coordinates about ``centre``
    radius: np.ndarray,  # [T] m
    height: np.ndarray,  # [T] m
    centre: np.ndarray,  # [T, 3] m
) -> tuple[np.ndarray, ...]:
    """The running path blended (smoothstep, no cut) into the exterior pass after
    ``config.exterior_start_s`` (``ext``, the config's): on around the orbit's centre, forwards, to the exterior
    camera's azimuth, radius and height, then swaying about them; the aim goes to its target.
    Returns angle, radius, height, the eye's centre and the aim's centre."""
    t = times - config.exterior_start_s
    blend = np.clip(t / ext.ramp_s, 0, 1)
    blend = blend * blend * (3 - 2 * blend)
    offset = np.asarray(ext.eye, float) - np.asarray(config.centre, float)
    azimuth = np.arctan2(offset[1], offset[0])
    walked = np.radians(
        config.start_deg + config.sweep_deg * config.exterior_start_s / config.duration_s
    )
    azimuth += 2 * np.pi * np.ceil((walked - azimuth) / (2 * np.pi))  # ahead, never back
    sway = np.clip(t - ext.ramp_s, 0, None)
    target_angle = azimuth + np.radians(ext.sway_deg) * np.sin(2 * np.pi * sway / 5.0)
    target_height = ext.eye[2] + ext.sway_m * np.sin(2 * np.pi * sway / 3.7)
    mix = lambda a, b: a + blend.reshape(-1, *[1] * (np.ndim(a) - 1)) * (b - a)  # noqa: E731
    return (
        mix(angle, target_angle),
        mix(radius, np.hypot(offset[0], offset[1])),
        mix(height, target_height),
        mix(centre, np.broadcast_to(np.asarray(config.centre, float), centre.shape)),
        mix(centre, np.broadcast_to(np.asarray(ext.target, float), centre.shape)),
    )


def _axis_angle(axis, angle: float) -> np.ndarray:
    x, y, z = np.asarray(axis, float)
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def phone_intrinsics(config: ScanConfig) -> np.ndarray:
    w, h = config.size
    f = config.focal * w
    return np.array([[f, 0.0, (w - 1) / 2], [0.0, f, (h - 1) / 2], [0.0, 0.0, 1.0]])


class PhoneRenderer:
    """MuJoCo renders of the package's table and objects (no robot) from any OpenCV pose;
    ``bare``: the objects taken off the table (put under it, out of the phone's sight)."""

    def __init__(self, package: EnvPackage, config: ScanConfig, bare: bool = False):
        spec, _ = build_spec(package, PhysicsConfig())  # the evaluation's lights, unchanged
        k = phone_intrinsics(config)
        w, h = config.size
        phone = CameraSpec(
            name=PHONE, width=w, height=h, fx=k[0, 0], fy=k[1, 1], cx=k[0, 2], cy=k[1, 2],
            parent="world", pose=Pose(),
        )  # fmt: skip
        add_camera(spec.worldbody, phone)
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        first = package.spec.initial_conditions[0]
        for name, pose in first.objects.items():
            joint = self.model.joint(f"object/{name}")
            pos = (pose.pos[0], pose.pos[1], BARE_DEPTH) if bare else pose.pos
            self.data.qpos[joint.qposadr[0] : joint.qposadr[0] + 7] = [*pos, *pose.quat]
        self.camera = self.model.camera(PHONE).id
        self.renderer = MujocoRenderer(
            self.model, groups=(MESH_VISUAL_GROUP, SPLATTED_VISUAL_GROUP)
        )

    def render(self, cam_from_world: np.ndarray) -> np.ndarray:
        """[H, W, 3] float32 linear-ish RGB in [0, 1] for a [3, 4] OpenCV pose."""
        rot, trans = cam_from_world[:, :3], cam_from_world[:, 3]
        self.model.cam_pos[self.camera] = -rot.T @ trans
        self.model.cam_quat[self.camera] = opencv_to_mujoco_quat(mat_to_quat(rot.T))
        mujoco.mj_forward(self.model, self.data)
        return self.renderer.render(self.data, PHONE).astype(np.float32) / 255.0

    def close(self) -> None:
        self.renderer.close()


def exposure_drift(
    times: np.ndarray,  # [T] s
    config: ScanConfig,
    rng: np.random.Generator | None = None,  # the scan's own (render_scan's) by default
) -> tuple[np.ndarray, np.ndarray]:
    """[T] gain and [T] gamma of the phone's slowly drifting exposure at ``times``: a frame is
    ``clip(render * gain) ** gamma``."""
    rng = np.random.default_rng(config.seed + 1) if rng is None else rng
    gain = 1 + config.exposure * _smooth(times, rng, (0.09, 0.17))
    gamma = 1 + 0.03 * _smooth(times, rng, (0.05,))
    return gain, gamma


def render_scan(
    package: EnvPackage, config: ScanConfig, video: Path, bare: bool = False
) -> ScanTruth:
    """Render the phone video to ``video`` (mp4) and return the true cameras; ``bare``: of the
    table with its objects taken off (what a user films after the scan for
    ``--bare-table``)."""
    rng = np.random.default_rng(config.seed + 1)
    count = round(config.total_s * config.fps)
    times = np.arange(count) / config.fps
    shutter = 0.5 / config.fps
    offsets = (np.arange(config.subframes) + 0.5) / config.subframes * shutter - shutter / 2
    phone = PhoneRenderer(package, config, bare)
    gain, gamma = exposure_drift(times, config, rng)
    w, h = config.size
    try:
        with av.open(str(video), mode="w") as container:
            stream = container.add_stream("libx264", rate=round(config.fps))
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.options = {"crf": "18", "preset": "veryfast"}
            for i, t in enumerate(times):
                poses = camera_path(np.clip(t + offsets, 0, None), config)
                frame = np.mean([phone.render(p) for p in poses], axis=0)
                frame = np.clip(frame * gain[i], 0, 1) ** gamma[i]
                frame = frame + rng.normal(0, config.noise, frame.shape)
                image = (np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8)
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    finally:
        phone.close()
    return ScanTruth(phone_intrinsics(config), config.size, camera_path(times, config), times)
