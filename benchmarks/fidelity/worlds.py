"""The worlds picture: one initial condition seen by every camera in a source world, its twin
(splats, the robot from MuJoCo) and the twin's meshes (the ``twin-meshes`` ablation).

    python -m benchmarks.fidelity.worlds --source kitchen_source --twin kitchen_twin \\
        --out benchmarks/fidelity/worlds-kitchen.png

Each row is one world, its cameras side by side (at their own size), under a caption line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sim_env.env import EnvConfig, TwinEnv
from sim_env.registry import resolve_env

CAPTION_PX = 16


def world_row(env_id: str, renderer: str, condition: int) -> np.ndarray:
    """[H, W, 3] uint8: the package's cameras at ``condition``, left to right."""
    env = TwinEnv(resolve_env(env_id), EnvConfig(renderer=renderer))
    try:
        obs, _ = env.reset(options={"initial_condition": condition})
        return np.concatenate([obs[c.name] for c in env.package.spec.cameras], axis=1)
    finally:
        env.close()


def captioned(image: np.ndarray, caption: str) -> np.ndarray:
    """``image`` under a white band with ``caption`` in it."""
    band = Image.new("RGB", (image.shape[1], CAPTION_PX), "white")
    ImageDraw.Draw(band).text((3, 2), caption, fill="black")
    return np.concatenate([np.asarray(band), image], axis=0)


def worlds_picture(source: str, twin: str, condition: int) -> np.ndarray:
    rows = [
        (source, "mujoco", f"source world {source} (MuJoCo, textured) - plays real"),
        (twin, "auto", f"twin {twin}: splats, robot from MuJoCo"),
        (twin, "mujoco", f"{twin}'s meshes (ablation twin-meshes)"),
    ]
    return np.concatenate(
        [captioned(world_row(env, renderer, condition), text) for env, renderer, text in rows]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="tabletop_source")
    parser.add_argument("--twin", default="tabletop_twin")
    parser.add_argument("--condition", type=int, default=1, help="initial condition shown")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("worlds.png"))
    args = parser.parse_args(argv)
    Image.fromarray(worlds_picture(args.source, args.twin, args.condition)).save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
