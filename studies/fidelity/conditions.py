"""More initial conditions than a package ships, the same in the source world and its twin.

A learned policy is deterministic and so is the simulation: episode ``k`` of an evaluation
replays initial condition ``k mod n`` exactly, whatever its seed, so 30 episodes over a
package's 10 initial conditions are 10 outcomes counted three times. Fidelity needs as many
distinct episodes as it counts, so :func:`expand_pair` writes both worlds again with ``count``
initial conditions: the package's own, then seeded draws around them (each object shifted and
turned on the table by :mod:`sim_env.variation`, as ``cotrain`` varies its demonstrations, so the policies stay in their
training distribution). Draw ``j`` moves every object by the same offset in both worlds,
each from its own package's pose, and is redrawn until nothing interpenetrates in either.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim_env.package import EnvPackage, InitialCondition
from sim_env.scene import build_scene
from sim_env.variation import PoseVariation, draw_free_conditions
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
        spec = package.spec.model_dump(mode="json")
        spec["initial_conditions"] = [ic.model_dump(mode="json") for ic in ics]
        files = {rel: package.path(rel) for rel in package.spec.referenced_files()}
        origin = (
            f"{package.name} ({package.content_hash[:12]}) with {count - len(package.spec.initial_conditions)} "
            f"initial conditions drawn around its own (seed {seed})"
        )
        written.append(write_variant(spec, files, root / folder, package, origin, package.name))
    return written[0], written[1]
