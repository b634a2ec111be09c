"""The environment package format, version 1: the pydantic schema of ``env.yaml``.

Frames and units (see FORMAT.md): metres, radians, world z up with the table surface at z = 0;
poses are ``pos`` (x, y, z) and ``quat`` (w, x, y, z) of a child frame in its parent's frame;
camera frames use OpenCV axes (x right, y down, z forward).
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim_env.droid import CONTROL_HZ

FORMAT_VERSION = 2  # the newest version written; every version in FORMAT_VERSIONS is read
FORMAT_VERSIONS = (1, 2)  # 2 adds scene.background and render
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")
MAX_NAME_CHARS = 100  # names become ids in the store, file names and page titles
MAX_INSTRUCTION_CHARS = 2000  # a task's instruction, sent to the policy with every request

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]


WORLD_EXTENT = 100.0  # m: every position in a package lies within this of the world origin
MAX_MASS = 1000.0  # kg, far above any tabletop object
MAX_DENSITY = 1e5  # kg/m^3, far above any solid


class _Strict(BaseModel):
    """No unknown keys, no NaN or infinity anywhere: every number has a finite range."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _check_name(value: str) -> str:
    if len(value) > MAX_NAME_CHARS:
        raise ValueError(f"a name has at most {MAX_NAME_CHARS} characters, got {len(value)}")
    if not NAME_PATTERN.match(value):
        raise ValueError(
            f"{value!r} is not a valid name (letters, digits, '_' or '-', starting with a letter)"
        )
    return value


class Pose(_Strict):
    """A rigid transform; the quaternion is normalised on load."""

    pos: Vec3 = (0.0, 0.0, 0.0)
    quat: Quat = (1.0, 0.0, 0.0, 0.0)

    @field_validator("pos")
    @classmethod
    def _within_world(cls, v: Vec3) -> Vec3:
        if not all(abs(x) <= WORLD_EXTENT for x in v):
            raise ValueError(f"must lie within {WORLD_EXTENT:g} m of the origin, got {list(v)}")
        return v

    @field_validator("quat")
    @classmethod
    def _unit(cls, q: Quat) -> Quat:
        n = math.sqrt(sum(x * x for x in q))
        if n < 1e-6:
            raise ValueError("quaternion (w, x, y, z) must not be zero")
        return tuple(x / n for x in q)  # type: ignore[return-value]


class RobotSpec(_Strict):
    """The DROID robot: a menagerie arm with a menagerie gripper at its flange."""

    arm: str = "franka_emika_panda"
    arm_entry: str = "panda_nohand"
    gripper: str = "robotiq_2f85"
    gripper_entry: str = "2f85"
    base_pose: Pose = Pose()


class CameraSpec(_Strict):
    """A pinhole camera; ``parent`` is ``world`` or a robot body (``gripper`` = the gripper base)."""

    name: str
    width: int = Field(gt=0, le=8192)
    height: int = Field(gt=0, le=8192)
    fx: float = Field(gt=0, le=1e6)  # px
    fy: float = Field(gt=0, le=1e6)
    cx: float  # px, OpenCV convention: a centred camera has cx = (width - 1) / 2
    cy: float
    parent: str = "world"
    pose: Pose

    _name = field_validator("name")(_check_name)

    @model_validator(mode="after")
    def _principal_point_near_the_image(self) -> CameraSpec:
        for axis, value, size in (("cx", self.cx, self.width), ("cy", self.cy, self.height)):
            if not -size <= value <= 2 * size:
                raise ValueError(f"{axis} = {value:g} px is far outside the {size} px image")
        return self


class VisualSpec(_Strict):
    """What the mesh renderer draws: a mesh with an optional texture (OBJ UVs) or a flat colour."""

    mesh: str
    texture: str | None = None
    rgba: tuple[float, float, float, float] = (0.7, 0.7, 0.7, 1.0)

    @field_validator("rgba")
    @classmethod
    def _unit_range(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not all(0.0 <= x <= 1.0 for x in v):
            raise ValueError(f"each of r, g, b, a must be in [0, 1], got {list(v)}")
        return v


def _check_friction(v: Vec3) -> Vec3:
    """MuJoCo's (sliding, torsional, rolling) coefficients, each in a physical range."""
    for name, value, high in zip(
        ("sliding", "torsional", "rolling"), v, (10.0, 1.0, 1.0), strict=True
    ):
        if not 0.0 <= value <= high:
            raise ValueError(f"{name} friction must be in [0, {high:g}], got {value}")
    return v


class BackgroundSpec(_Strict):
    """What lies behind the splats: an equirectangular panorama (PNG, 2:1, RGBA with A = seen
    by the capture) painted on a dome of ``radius`` around ``centre`` (``sim_env.envmap``)."""

    image: str
    centre: Vec3
    radius: float = Field(gt=0, le=10 * WORLD_EXTENT)


class TableTextureSpec(_Strict):
    """The table top as a picture of the scan's frames projected onto the plane z = ``height``
    (world), drawn under the splats (``sim_env.render.table_texture``): row 0 of the PNG at
    ``y_max``, column 0 at ``x_min``."""

    image: str
    extent: tuple[float, float, float, float]  # x_min, y_min, x_max, y_max, world units
    height: float = Field(default=0.0, ge=-WORLD_EXTENT, le=WORLD_EXTENT)

    @field_validator("extent")
    @classmethod
    def _ordered(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x_min, y_min, x_max, y_max = v
        if not (x_min < x_max and y_min < y_max):
            raise ValueError(f"must be [x_min, y_min, x_max, y_max] with min < max, got {list(v)}")
        if any(abs(x) > WORLD_EXTENT for x in v):
            raise ValueError(f"must lie within {WORLD_EXTENT:g} of the origin, got {list(v)}")
        return v


ColourMatrix = tuple[
    tuple[float, float, float, float],
    tuple[float, float, float, float],
    tuple[float, float, float, float],
]
MAX_COLOUR_COEFFICIENT = 10.0  # a colour map's entries (colours in [0, 1]) stay within this
MAX_CAMERA_GAIN = 4.0  # a camera's per-channel gain: two stops either way covers any exposure


class CameraResponseSpec(_Strict):
    """What a real camera does to its whole image (sim_env.render.camera_response)."""

    gains: Vec3 = (1.0, 1.0, 1.0)  # R, G, B multipliers: white balance and exposure
    jpeg_quality: int | None = Field(default=None, ge=1, le=100)  # the stream's codec; None: raw

    @field_validator("gains")
    @classmethod
    def _positive(cls, v: Vec3) -> Vec3:
        if not all(0 < g <= MAX_CAMERA_GAIN for g in v):
            raise ValueError(f"each gain must be in (0, {MAX_CAMERA_GAIN:g}], got {list(v)}")
        return v


class SplatRenderSpec(_Strict):
    """How this package is drawn; every field is opt-in (the default is gsplat's classic mode,
    colours as trained, each camera's image as rendered)."""

    antialiased: bool = False  # gsplat's rasterize_mode "antialiased" (mip-splatting's 2D filter)
    smoothing_3d: bool = False  # mip-splatting's 3D filter for the package's own cameras
    # splats drawn this many times finer than each image and box-averaged (a camera's pixel
    # integrates over its area; sim_env.render.supersample)
    supersample: int = Field(default=1, ge=1, le=4)
    # camera name -> 3x4 affine map (M | b) of the splats' colours in [0, 1] to what that camera
    # sees (its exposure and white balance; sim_env.render.colour.fit_colour)
    colour: dict[str, ColourMatrix] = Field(default_factory=dict)
    # camera name -> that camera's response applied to its finished image, robot included,
    # with any renderer (gains, then JPEG; sim_env.render.camera_response)
    camera_response: dict[str, CameraResponseSpec] = Field(default_factory=dict)

    @field_validator("colour")
    @classmethod
    def _bounded(cls, v: dict[str, ColourMatrix]) -> dict[str, ColourMatrix]:
        for camera, rows in v.items():
            if any(abs(x) > MAX_COLOUR_COEFFICIENT for row in rows for x in row):
                raise ValueError(
                    f"{camera}: entries must be within +-{MAX_COLOUR_COEFFICIENT:g}, got {rows}"
                )
        return v


class SceneSpec(_Strict):
    """The static scene (table and surroundings), fixed in the world."""

    visual: VisualSpec | None = None
    collision_hulls: list[str] = Field(min_length=1)
    splats: str | None = None
    background: BackgroundSpec | None = None  # format version 2
    table_texture: TableTextureSpec | None = None  # format version 2
    friction: Vec3 = (1.0, 0.005, 0.0001)

    _friction = field_validator("friction")(_check_friction)


class ObjectSpec(_Strict):
    """A movable rigid object: a free body whose collision geometry is a set of convex hulls."""

    name: str
    visual: VisualSpec
    collision_hulls: list[str] = Field(min_length=1)
    splats: str | None = None
    mass: float | None = Field(default=None, gt=0, le=MAX_MASS)  # kg
    density: float | None = Field(default=None, gt=0, le=MAX_DENSITY)  # kg/m^3
    friction: Vec3 = (1.0, 0.005, 0.0001)

    _name = field_validator("name")(_check_name)
    _friction = field_validator("friction")(_check_friction)

    @model_validator(mode="after")
    def _mass_or_density(self) -> ObjectSpec:
        if (self.mass is None) == (self.density is None):
            raise ValueError("give exactly one of 'mass' (kg) or 'density' (kg/m^3)")
        return self


class CriterionSpec(_Strict):
    """One rubric criterion: ``kind`` names a registered criterion, ``params`` its arguments."""

    name: str
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    requires: list[str] = Field(default_factory=list)

    _name = field_validator("name")(_check_name)


class RubricSpec(_Strict):
    criteria: list[CriterionSpec] = Field(min_length=1)


class InitialCondition(_Strict):
    """Object poses and the robot's joint configuration at the start of an episode."""

    objects: dict[str, Pose]
    arm_qpos: tuple[float, float, float, float, float, float, float]
    gripper: float = Field(default=0.0, ge=0.0, le=1.0)


class EpisodeSpec(_Strict):
    control_hz: float = Field(default=float(CONTROL_HZ), ge=1.0, le=1000.0)  # Hz, DROID's 15
    horizon_steps: int = Field(default=450, gt=0, le=1_000_000)


class Provenance(_Strict):
    """How the package was made, and the sha256 of every file it references."""

    created_by: str
    created_at: str
    software_version: str
    source: str | None = None
    notes: str | None = None
    files: dict[str, str] = Field(default_factory=dict)


class EnvPackageSpec(_Strict):
    """Everything in ``env.yaml``."""

    format_version: Literal[1, 2]
    name: str
    instruction: str = Field(min_length=1, max_length=MAX_INSTRUCTION_CHARS)
    robot: RobotSpec = RobotSpec()
    cameras: list[CameraSpec] = Field(min_length=1)
    scene: SceneSpec
    objects: list[ObjectSpec] = Field(default_factory=list)
    rubric: RubricSpec
    initial_conditions: list[InitialCondition] = Field(min_length=1)
    episode: EpisodeSpec = EpisodeSpec()
    provenance: Provenance
    render: SplatRenderSpec | None = None  # opt-in rendering settings

    _name = field_validator("name")(_check_name)

    @field_validator("render")
    @classmethod
    def _render_needs_version_2(
        cls, render: SplatRenderSpec | None, info: ValidationInfo
    ) -> SplatRenderSpec | None:
        if render is not None and info.data.get("format_version", 2) < 2:
            raise ValueError("needs format_version 2 (a version 1 reader does not know it)")
        return render

    @model_validator(mode="after")
    def _render_names_cameras(self) -> EnvPackageSpec:
        if self.render is not None:
            names = {c.name for c in self.cameras}
            for field in ("colour", "camera_response"):
                unknown = sorted(set(getattr(self.render, field)) - names)
                if unknown:
                    raise ValueError(f"render.{field} names cameras the package lacks: {unknown}")
        return self

    @model_validator(mode="after")
    def _version_2_scene_fields(self) -> EnvPackageSpec:
        for field in ("background", "table_texture"):
            if getattr(self.scene, field) is not None and self.format_version < 2:
                raise ValueError(f"scene.{field} needs format_version 2")
        return self

    def referenced_files(self) -> list[str]:
        """Every file path (relative to the package) that env.yaml points to, in a fixed order."""
        files: list[str] = []

        def visual(v: VisualSpec | None) -> None:
            if v is not None:
                files.append(v.mesh)
                if v.texture:
                    files.append(v.texture)

        visual(self.scene.visual)
        files += self.scene.collision_hulls
        if self.scene.splats:
            files.append(self.scene.splats)
        if self.scene.background:
            files.append(self.scene.background.image)
        if self.scene.table_texture:
            files.append(self.scene.table_texture.image)
        for obj in self.objects:
            visual(obj.visual)
            files += obj.collision_hulls
            if obj.splats:
                files.append(obj.splats)
        return list(dict.fromkeys(files))
