"""More initial conditions than a package ships, the same in the source world and its twin.

A learned policy is deterministic and so is the simulation: episode ``k`` of an evaluation
replays initial condition ``k mod n`` exactly, whatever its seed, so 30 episodes over a
package's 10 initial conditions are 10 outcomes counted three times. Fidelity needs as many
distinct episodes as it counts, so :func:`expand_pair` writes both worlds again with ``count``
initial conditions: the package's own, then seeded draws around them (each object shifted and
turned on the table as ``cotrain`` varies its demonstrations, so the policies stay in their
training distribution). Draw ``j`` moves every object by the same offset in both worlds,
each from its own package's pose, and is redrawn until nothing interpenetrates in either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from cotrain.randomize import RandomizationConfig
from evaluate.fidelity.variants import VariantError, write_variant
from sim_env.package import EnvPackage, InitialCondition
from sim_env.package.schema import Pose
from sim_env.scene import SceneModel, apply_initial_condition, build_scene, penetrations

VARIATION = RandomizationConfig()  # cotrain's object shifts and turns


@dataclass(frozen=True)
class Offset:
    """One object's move: xy shift [m] and turn about the vertical [rad]."""

    shift: tuple[float, float]
    yaw: float

    def apply(self, pose: Pose) -> Pose:
        turn = np.array([np.cos(self.yaw / 2), 0.0, 0.0, np.sin(self.yaw / 2)])
        quat = np.zeros(4)
        mujoco.mju_mulQuat(quat, turn, np.asarray(pose.quat, float))
        x, y, z = pose.pos
        return Pose(pos=(x + self.shift[0], y + self.shift[1], z), quat=tuple(quat))


def moved(condition: InitialCondition, offsets: dict[str, Offset]) -> InitialCondition:
    objects = {name: offsets[name].apply(pose) for name, pose in condition.objects.items()}
    return condition.model_copy(update={"objects": objects})


def extra_conditions(
    packages: tuple[EnvPackage, ...],
    count: int,
    seed: int,
    config: RandomizationConfig = VARIATION,
) -> list[list[InitialCondition]]:
    """Per package, its initial conditions followed by draws up to ``count`` in all.

    Raises:
        VariantError: the packages differ in their number of initial conditions, or no
            collision-free draw was found in ``config.placement_attempts`` tries.
    """
    bases = [list(p.spec.initial_conditions) for p in packages]
    n = len(bases[0])
    if any(len(b) != n for b in bases):
        raise VariantError("the worlds must ship the same number of initial conditions")
    scenes = [build_scene(p) for p in packages]
    names = sorted(bases[0][0].objects)
    out = [list(b) for b in bases]
    for j in range(n, count):
        rng = np.random.default_rng([seed, j])
        for _ in range(config.placement_attempts):
            offsets = {
                name: Offset(
                    tuple(rng.uniform(-config.object_shift, config.object_shift, 2)),
                    float(rng.uniform(-config.object_yaw, config.object_yaw)),
                )
                for name in names
            }
            drawn = [moved(b[j % n], offsets) for b in bases]
            if all(_free(scene, ic) for scene, ic in zip(scenes, drawn, strict=True)):
                break
        else:
            raise VariantError(
                f"no collision-free placement near initial condition {j % n} in "
                f"{config.placement_attempts} draws",
                field="initial_conditions",
            )
        for conditions, ic in zip(out, drawn, strict=True):
            conditions.append(ic)
    return out


def _free(scene: SceneModel, condition: InitialCondition) -> bool:
    data = mujoco.MjData(scene.model)
    apply_initial_condition(scene, data, condition)
    return not penetrations(scene, data)


def expand_pair(
    source: EnvPackage, twin: EnvPackage, count: int, seed: int, root: Path
) -> tuple[EnvPackage, EnvPackage]:
    """Both worlds rewritten under ``root``/source and ``root``/twin with ``count`` conditions."""
    conditions = extra_conditions((source, twin), count, seed)
    written = []
    for package, ics, folder in zip((source, twin), conditions, ("source", "twin"), strict=True):
        spec = package.spec.model_dump(mode="json")
        spec["initial_conditions"] = [ic.model_dump(mode="json") for ic in ics]
        files = {rel: package.path(rel) for rel in package.spec.referenced_files()}
        origin = (
            f"{package.name} ({package.content_hash[:12]}) with {count - len(package.spec.initial_conditions)} "
            f"initial conditions drawn around its own (seed {seed})"
        )
        written.append(write_variant(spec, files, root / folder, package, origin, package.name))
    return written[0], written[1]
