"""The swapped-eyes replay of ``benchmarks.fidelity.trial_gap``: a lost episode run again in
its world with the locator's reading replaced, by its own (which must repeat the stored
outcome) and by the winning world's. The locator policies read one frame, so what they do
after it is this world's physics acting on that reading."""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.estimate_trials import MAX_STEPS
from evaluate.bundle import load_bundle
from evaluate.rollout import RolloutConfig, run_episode
from sim_env.env import EnvConfig, TwinEnv
from sim_env.package import EnvPackage


def reading(policy, image: np.ndarray, shift: np.ndarray, turn: np.ndarray) -> dict:
    """The policy's own reading of ``image`` (object -> {"pos", "quat"}), each object moved
    by ``shift`` [M, 2] m and turned by ``turn`` [M] rad: another world's reading carried to
    where the objects stand in this one."""
    located = policy.locate(image)
    for m, name in enumerate(policy.locator.objects):
        pose = located[name]
        yaw = 2 * np.arctan2(pose["quat"][3], pose["quat"][0]) + turn[m]
        pos = np.asarray(pose["pos"], np.float64) + np.array([*shift[m], 0.0])
        located[name] = {"pos": pos, "quat": np.array([np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)])}
    return located


def replay(
    package: EnvPackage, bundle: Path, episodes: Sequence[tuple[int, int, dict]]
) -> list[bool]:
    """Success of the rung in ``package`` at each (condition, seed, reading), its locator's
    reading replaced by the one given: the episode with those eyes and this world's physics.
    The policy reads no image after its first, so the cheap MuJoCo renderer runs it."""
    bundle_policy = load_bundle(bundle)
    inner = bundle_policy.inner
    env = TwinEnv(
        package,
        EnvConfig(
            image_size=tuple(inner.locator.image_size)[::-1],  # (h, w) -> (w, h)
            cameras=(inner.locator.camera,),
            renderer="mujoco",
        ),
    )
    outcomes = []
    try:
        for condition, seed, located in episodes:
            given = copy.copy(inner)
            given.locate = lambda image, located=located: located  # the reading, as given
            bundle_policy.inner = given
            outcome = run_episode(
                env,
                bundle_policy,
                initial_condition=condition,
                seed=seed,
                config=RolloutConfig(max_steps=MAX_STEPS),
            )
            if outcome.failure_kind is not None:
                raise SystemExit(
                    f"{package.root}: replay at condition {condition} failed: "
                    f"{outcome.failure_reason}"
                )
            outcomes.append(bool(outcome.success))
    finally:
        bundle_policy.inner = inner
        env.close()
    return outcomes


def swap_eyes(
    pairs: pd.DataFrame, diagnosis: pd.DataFrame, packages: dict, bundle: Path, located: dict
) -> pd.DataFrame:
    """``diagnosis`` with two replays per condition in the losing world: ``own`` (its own
    reading; must repeat the stored failure) and ``swapped`` (the winning world's reading,
    moved to where the objects stand in the losing one), and the ``replay_cause``: vision
    where the swapped reading succeeds, physics/geometry where it fails as well."""
    policy = load_bundle(bundle).inner
    out = diagnosis.copy()
    own, swapped = {}, {}
    for loser in ("twin", "source"):
        winner = "source" if loser == "twin" else "twin"
        rows = diagnosis[diagnosis["direction"] == ("lost" if loser == "twin" else "gained")]
        if rows.empty:
            continue
        plays = []
        for c in rows["condition"]:
            seed = int(pairs.loc[c, f"{loser}_seed"])
            here, there = located[loser].views, located[winner].views
            zero = np.zeros(here.yaw.shape[1])
            plays.append((c, seed, reading(policy, here.images[c], 0 * here.xy[c], zero)))
            shift, turn = here.xy[c] - there.xy[c], here.yaw[c] - there.yaw[c]
            plays.append((c, seed, reading(policy, there.images[c], shift, turn)))
        started = time.perf_counter()
        results = replay(packages[loser], bundle, plays)
        print(
            f"replays in {loser}: {len(plays)} in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        for k, c in enumerate(rows["condition"]):
            own[c], swapped[c] = results[2 * k], results[2 * k + 1]
    out["own_replay_success"] = out["condition"].map(own)
    out["swapped_replay_success"] = out["condition"].map(swapped)
    out["replay_cause"] = [
        "not reproduced" if o else ("vision" if s else "physics/geometry")
        for o, s in zip(out["own_replay_success"], out["swapped_replay_success"], strict=True)
    ]
    return out
