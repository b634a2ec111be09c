"""Compose the MuJoCo model of an environment package: static scene, objects, robot, cameras."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np
import trimesh

from sim_env.cameras import add_camera
from sim_env.errors import EnvPackageError
from sim_env.package import ENV_FILE, EnvPackage, InitialCondition
from sim_env.package.schema import VisualSpec
from sim_env.robot import GRIPPER_CTRL_MAX, GRIPPER_DRIVER_MAX, RobotNames, attach_robot
from sim_env.rubric import ObjectBox

OBJECT_PREFIX = "object/"
# Geom groups: package visuals drawn by MuJoCo in every renderer (0), package visuals that
# Gaussian splats replace in the hybrid renderer (1), the robot (2, menagerie's), collision (3).
MESH_VISUAL_GROUP, SPLATTED_VISUAL_GROUP, ROBOT_VISUAL_GROUP, COLLISION_GROUP = 0, 1, 2, 3
PENETRATION_TOLERANCE = 0.003  # m, deeper contact at an initial condition is an error


@dataclass(frozen=True)
class PhysicsConfig:
    """Simulation settings; ``timestep`` x ``substeps`` = one control period."""

    timestep: float = 1.0 / 240.0  # s
    object_condim: int = 4  # torsional friction keeps grasped objects from spinning
    offscreen_size: tuple[int, int] = (1280, 720)  # minimum offscreen buffer, pixels

    def substeps(self, control_hz: float) -> int:
        return max(1, round(1.0 / (control_hz * self.timestep)))


@dataclass(frozen=True)
class ObjectIndex:
    name: str
    body_id: int
    qpos_adr: int  # 7 numbers: position, quaternion (w x y z)
    qvel_adr: int  # 6 numbers


@dataclass(frozen=True)
class SceneModel:
    """A compiled model and where things are in it (addresses into qpos, ctrl, bodies)."""

    model: mujoco.MjModel
    robot: RobotNames
    arm_qpos_adr: np.ndarray  # [7]
    arm_qvel_adr: np.ndarray  # [7]
    arm_actuators: np.ndarray  # [7]
    gripper_actuator: int
    gripper_qpos_adr: int
    tcp_site: int
    objects: tuple[ObjectIndex, ...]
    boxes: dict[str, ObjectBox]
    cameras: dict[str, int]
    object_geoms: frozenset[int]
    robot_geoms: frozenset[int]

    def gripper_closure(self, data: mujoco.MjData) -> float:
        """Gripper closure in [0, 1] (0 = open), from the driver joint."""
        return float(np.clip(data.qpos[self.gripper_qpos_adr] / GRIPPER_DRIVER_MAX, 0.0, 1.0))


def _add_visual(
    spec: mujoco.MjSpec,
    body: mujoco.MjsBody,
    visual: VisualSpec,
    root: Path,
    key: str,
    splatted: bool,
) -> None:
    mesh = spec.add_mesh(name=f"{key}/visual", file=str(root / visual.mesh))
    material = spec.add_material(name=f"{key}/material", rgba=list(visual.rgba))
    if visual.texture:
        spec.add_texture(
            name=f"{key}/texture",
            type=mujoco.mjtTexture.mjTEXTURE_2D,
            file=str(root / visual.texture),
        )
        material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = f"{key}/texture"
        material.rgba = [1, 1, 1, visual.rgba[3]]
    body.add_geom(
        name=f"{key}/visual",
        type=mujoco.mjtGeom.mjGEOM_MESH,
        meshname=mesh.name,
        material=material.name,
        contype=0,
        conaffinity=0,
        group=SPLATTED_VISUAL_GROUP if splatted else MESH_VISUAL_GROUP,
        density=0,
    )


def _add_hulls(
    spec: mujoco.MjSpec,
    body: mujoco.MjsBody,
    hulls: list[str],
    root: Path,
    key: str,
    friction,
    density: float,
    condim: int,
) -> None:
    for i, rel in enumerate(hulls):
        mesh = spec.add_mesh(name=f"{key}/hull{i}", file=str(root / rel))
        body.add_geom(
            name=f"{key}/hull{i}",
            type=mujoco.mjtGeom.mjGEOM_MESH,
            meshname=mesh.name,
            group=COLLISION_GROUP,
            friction=list(friction),
            density=density,
            condim=condim,
            rgba=[0.5, 0.5, 0.9, 0.5],
        )


def _hull_volume_and_box(root: Path, hulls: list[str]) -> tuple[float, ObjectBox]:
    meshes = [trimesh.load(root / rel, force="mesh", process=False) for rel in hulls]
    volume = sum(float(trimesh.convex.convex_hull(m.vertices).volume) for m in meshes)
    vertices = np.concatenate([m.vertices for m in meshes])
    lo, hi = vertices.min(0), vertices.max(0)
    return volume, ObjectBox(center=(lo + hi) / 2.0, half_extents=(hi - lo) / 2.0)


def build_spec(
    package: EnvPackage, physics: PhysicsConfig
) -> tuple[mujoco.MjSpec, dict[str, ObjectBox]]:
    spec_in = package.spec
    root = package.root
    spec = mujoco.MjSpec()
    spec.modelname = spec_in.name
    spec.option.timestep = physics.timestep
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    # The 2F-85's own settings, dropped by MjSpec.attach (see robot.py).
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10.0
    width = max([c.width for c in spec_in.cameras] + [physics.offscreen_size[0]])
    height = max([c.height for c in spec_in.cameras] + [physics.offscreen_size[1]])
    spec.visual.global_.offwidth, spec.visual.global_.offheight = width, height
    spec.visual.quality.shadowsize = 0
    spec.visual.headlight.ambient = [0.4, 0.4, 0.4]
    spec.visual.headlight.diffuse = [0.5, 0.5, 0.5]
    spec.worldbody.add_light(
        name="top", pos=[0, 0, 2.0], dir=[0, 0, -1], castshadow=False, diffuse=[0.5, 0.5, 0.5]
    )

    scene = spec_in.scene
    if scene.visual is not None:
        _add_visual(spec, spec.worldbody, scene.visual, root, "scene", scene.splats is not None)
    _add_hulls(spec, spec.worldbody, scene.collision_hulls, root, "scene", scene.friction, 0.0, 3)

    boxes: dict[str, ObjectBox] = {}
    first = spec_in.initial_conditions[0]
    for obj in spec_in.objects:
        volume, boxes[obj.name] = _hull_volume_and_box(root, obj.collision_hulls)
        density = obj.density if obj.density is not None else obj.mass / max(volume, 1e-9)
        pose = first.objects[obj.name]
        body = spec.worldbody.add_body(
            name=OBJECT_PREFIX + obj.name, pos=list(pose.pos), quat=list(pose.quat)
        )
        body.add_freejoint(name=OBJECT_PREFIX + obj.name)
        _add_visual(spec, body, obj.visual, root, OBJECT_PREFIX + obj.name, obj.splats is not None)
        _add_hulls(
            spec,
            body,
            obj.collision_hulls,
            root,
            OBJECT_PREFIX + obj.name,
            obj.friction,
            density,
            physics.object_condim,
        )

    names = attach_robot(spec, spec_in.robot)
    for camera in spec_in.cameras:
        parent = {"world": spec.worldbody.name, "gripper": names.gripper_base}.get(
            camera.parent, camera.parent
        )
        body = spec.worldbody if parent == spec.worldbody.name else spec.body(parent)
        if body is None:
            robot_bodies = sorted(b.name for b in spec.bodies if b.name.startswith("robot/"))
            raise EnvPackageError(
                f"unknown parent body {camera.parent!r} (use 'world', 'gripper' or one of {robot_bodies})",
                file=package.root / ENV_FILE,
                field=f"cameras[{[c.name for c in spec_in.cameras].index(camera.name)}].parent",
            )
        add_camera(body, camera)
    return spec, boxes


def build_scene(package: EnvPackage, physics: PhysicsConfig = PhysicsConfig()) -> SceneModel:
    """Compile the package into a MuJoCo model; errors name the package file."""
    spec, boxes = build_spec(package, physics)
    try:
        model = spec.compile()
    except ValueError as exc:
        raise EnvPackageError(
            f"MuJoCo cannot compile the scene: {exc}", file=package.root / ENV_FILE
        ) from None
    names = RobotNames()
    joint = lambda n: model.joint(n)  # noqa: E731
    objects = tuple(
        ObjectIndex(
            name=o.name,
            body_id=model.body(OBJECT_PREFIX + o.name).id,
            qpos_adr=int(joint(OBJECT_PREFIX + o.name).qposadr[0]),
            qvel_adr=int(joint(OBJECT_PREFIX + o.name).dofadr[0]),
        )
        for o in package.spec.objects
    )
    object_bodies = {o.body_id for o in objects}
    robot_bodies = {i for i in range(model.nbody) if model.body(i).name.startswith("robot/")}
    return SceneModel(
        model=model,
        robot=names,
        arm_qpos_adr=np.array([joint(j).qposadr[0] for j in names.arm_joints]),
        arm_qvel_adr=np.array([joint(j).dofadr[0] for j in names.arm_joints]),
        arm_actuators=np.array([model.actuator(a).id for a in names.arm_actuators]),
        gripper_actuator=model.actuator(names.gripper_actuator).id,
        gripper_qpos_adr=int(joint(names.gripper_driver_joint).qposadr[0]),
        tcp_site=model.site(names.tcp_site).id,
        objects=objects,
        boxes=boxes,
        cameras={c.name: model.camera(c.name).id for c in package.spec.cameras},
        object_geoms=frozenset(
            g for g in range(model.ngeom) if model.geom_bodyid[g] in object_bodies
        ),
        robot_geoms=frozenset(
            g for g in range(model.ngeom) if model.geom_bodyid[g] in robot_bodies
        ),
    )


def apply_initial_condition(scene: SceneModel, data: mujoco.MjData, ic: InitialCondition) -> None:
    """Put objects and robot in the initial condition's state, at rest, with matching targets."""
    model = scene.model
    mujoco.mj_resetData(model, data)
    for obj in scene.objects:
        pose = ic.objects[obj.name]
        data.qpos[obj.qpos_adr : obj.qpos_adr + 3] = pose.pos
        data.qpos[obj.qpos_adr + 3 : obj.qpos_adr + 7] = pose.quat
    data.qpos[scene.arm_qpos_adr] = ic.arm_qpos
    data.ctrl[scene.arm_actuators] = ic.arm_qpos
    data.qpos[scene.gripper_qpos_adr] = ic.gripper * GRIPPER_DRIVER_MAX
    data.ctrl[scene.gripper_actuator] = ic.gripper * GRIPPER_CTRL_MAX
    mujoco.mj_forward(model, data)


def penetrations(
    scene: SceneModel, data: mujoco.MjData, tolerance: float = PENETRATION_TOLERANCE
) -> list[str]:
    """Descriptions of contacts deeper than ``tolerance`` that involve an object or the robot,
    one per pair of bodies (its deepest contact)."""
    model = scene.model
    deepest: dict[tuple[str, str], float] = {}
    for c in data.contact[: data.ncon]:
        g1, g2 = int(c.geom1), int(c.geom2)
        involved = {g1, g2} & (scene.object_geoms | scene.robot_geoms)
        both_robot = {g1, g2} <= scene.robot_geoms
        if involved and not both_robot and c.dist < -tolerance:
            pair = (_body_label(model, g1), _body_label(model, g2))
            deepest[pair] = max(deepest.get(pair, 0.0), -float(c.dist))
    return [
        f"{a} and {b} interpenetrate by {depth * 1000:.1f} mm" for (a, b), depth in deepest.items()
    ]


def _body_label(model: mujoco.MjModel, geom: int) -> str:
    """The body a geom belongs to; for the static scene (the world body) the geom's own name
    (``scene/hull0``: the table)."""
    body = int(model.geom_bodyid[geom])
    return model.body(body).name if body else model.geom(geom).name or "the static scene"


def penetration_advice(package: EnvPackage) -> str:
    """What a user can do about interpenetrating bodies in ``package``."""
    names = ", ".join(o.name for o in package.spec.objects)
    return (
        f"merge or drop them with 'twinbench env edit {package.root} --merge A,B=NEW' or "
        f"'--drop NAME' (objects: {names}), or move them apart in env.yaml's initial_conditions"
    )


def check_initial_conditions(scene: SceneModel, package: EnvPackage) -> None:
    """Every initial condition is within joint limits and free of interpenetration."""
    data = mujoco.MjData(scene.model)
    lo, hi = scene.model.jnt_range[[scene.model.joint(j).id for j in scene.robot.arm_joints]].T
    for i, ic in enumerate(package.spec.initial_conditions):
        field = f"initial_conditions[{i}]"
        q = np.asarray(ic.arm_qpos)
        bad = np.flatnonzero((q < lo - 1e-6) | (q > hi + 1e-6))
        if bad.size:
            j = int(bad[0])
            raise EnvPackageError(
                f"joint{j + 1} = {q[j]:.3f} rad is outside its range [{lo[j]:.3f}, {hi[j]:.3f}]",
                file=package.root / ENV_FILE,
                field=f"{field}.arm_qpos",
            )
        apply_initial_condition(scene, data, ic)
        problems = penetrations(scene, data)
        if problems:
            raise EnvPackageError(
                f"{'; '.join(problems)}; {penetration_advice(package)}",
                file=package.root / ENV_FILE,
                field=field,
            )
