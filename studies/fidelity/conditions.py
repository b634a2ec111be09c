"""More initial conditions than a package ships, the same in the source world and its twin.

A learned policy is deterministic and so is the simulation: episode ``k`` of an evaluation
replays initial condition ``k mod n`` exactly, whatever its seed, so 30 episodes over a
package's 10 initial conditions are 10 outcomes counted three times. Fidelity needs as many
distinct episodes as it counts, so :func:`expand_pair` writes both worlds again with ``count``
initial conditions: the package's own, then seeded draws around them (each object shifted and
turned on the table by :mod:`sim_env.variation`, as ``cotrain`` varies its demonstrations, so the policies stay in their
training distribution). Draw ``j`` moves every object by the same offset in both worlds,
each from its own package's pose, and is redrawn until nothing interpenetrates in either.

:func:`jitter_condition` perturbs one condition by a few millimetres and degrees (and the arm's
start by a little), and :func:`write_jittered` writes a world ``k`` times with every condition so
perturbed: a deterministic twin gives one 0/1 outcome at a condition, the mean over its
jittered copies is its success probability near it (a knife-edge condition counts as 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim_env.package import EnvPackage, InitialCondition
from sim_env.scene import SceneModel, build_scene
from sim_env.variation import PoseVariation, draw_free_conditions, draw_offsets, is_free, moved
from studies.fidelity.variants import VariantError, write_variant


def extra_conditions(
    packages: tuple[EnvPackage, ...],
    count: int,
    seed: int,
    config: PoseVariation = PoseVariation(),
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
    out = [list(b) for b in bases]
    for j in range(n, count):
        rng = np.random.default_rng([seed, j])
        drawn = draw_free_conditions(rng, scenes, [b[j % n] for b in bases], config)
        if drawn is None:
            raise VariantError(
                f"no collision-free placement near initial condition {j % n} in "
                f"{config.placement_attempts} draws",
                field="initial_conditions",
            )
        for conditions, ic in zip(out, drawn, strict=True):
            conditions.append(ic)
    return out


def expand_pair(
    source: EnvPackage, twin: EnvPackage, count: int, seed: int, root: Path
) -> tuple[EnvPackage, EnvPackage]:
    """Both worlds rewritten under ``root``/source and ``root``/twin with ``count`` conditions."""
    conditions = extra_conditions((source, twin), count, seed)
    written = []
    for package, ics, folder in zip((source, twin), conditions, ("source", "twin"), strict=True):
        origin = (
            f"{package.name} ({package.content_hash[:12]}) with {count - len(package.spec.initial_conditions)} "
            f"initial conditions drawn around its own (seed {seed})"
        )
        written.append(_with_conditions(package, ics, root / folder, origin))
    return written[0], written[1]


def _with_conditions(
    package: EnvPackage, conditions: list[InitialCondition], root: Path, origin: str
) -> EnvPackage:
    """``package`` written under ``root`` with ``conditions`` in place of its own."""
    spec = package.spec.model_dump(mode="json")
    spec["initial_conditions"] = [ic.model_dump(mode="json") for ic in conditions]
    files = {rel: package.path(rel) for rel in package.spec.referenced_files()}
    return write_variant(spec, files, root, package, origin, package.name)


@dataclass(frozen=True)
class Jitter:
    """Uniform half-widths of the perturbation of one condition: small against the draws of
    :class:`~sim_env.variation.PoseVariation` (3 cm, 20 degrees), so a jittered copy stays
    near its condition."""

    object_shift: float = 0.005  # m, largest xy shift of each object
    object_yaw: float = 0.05  # rad (about 3 degrees), largest turn of each object
    arm: float = 0.01  # rad, largest offset of each arm joint's start
    placement_attempts: int = 50  # draws before giving up on a collision-free one


def jitter_condition(
    rng: np.random.Generator, scene: SceneModel, condition: InitialCondition, jitter: Jitter
) -> InitialCondition:
    """``condition`` with every object shifted and turned and every arm joint offset (within
    its limits), redrawn until nothing interpenetrates in ``scene``.

    Raises:
        VariantError: no free draw in ``jitter.placement_attempts`` tries.
    """
    variation = PoseVariation(object_shift=jitter.object_shift, object_yaw=jitter.object_yaw)
    model = scene.model
    low, high = model.jnt_range[[model.joint(j).id for j in scene.robot.arm_joints]].T
    for _ in range(jitter.placement_attempts):
        offsets = draw_offsets(rng, sorted(condition.objects), variation)
        arm = np.asarray(condition.arm_qpos) + rng.uniform(
            -jitter.arm, jitter.arm, len(condition.arm_qpos)
        )
        arm = np.clip(arm, low, high)
        drawn = moved(condition, offsets).model_copy(update={"arm_qpos": tuple(arm.tolist())})
        if is_free(scene, drawn):
            return drawn
    raise VariantError(
        f"no collision-free jitter of an initial condition in {jitter.placement_attempts} draws",
        field="initial_conditions",
    )


def write_jittered(
    package: EnvPackage, copies: int, seed: int, root: Path, jitter: Jitter = Jitter()
) -> list[EnvPackage]:
    """``copies`` packages under ``root``/jitter-1.. ; copy ``k``'s condition ``i`` is a
    seeded jitter (``[seed, k, i]``) of ``package``'s condition ``i``, so episodes of every
    copy pair with the original's by initial condition."""
    scene = build_scene(package)
    written = []
    for k in range(1, copies + 1):
        conditions = [
            jitter_condition(np.random.default_rng([seed, k, i]), scene, ic, jitter)
            for i, ic in enumerate(package.spec.initial_conditions)
        ]
        origin = f"{package.name} ({package.content_hash[:12]}), jittered copy {k} (seed {seed})"
        written.append(_with_conditions(package, conditions, root / f"jitter-{k}", origin))
    return written
