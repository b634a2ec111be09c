"""A small cube-in-bowl package (96x64 cameras) and one 3-episode dataset generated from it,
shared by the whole folder (rendering is the slow part).

The dataset is made the hard way: ``twinbench cotrain generate`` runs in a subprocess that is
SIGKILLed once its first episode is staged, then the same generation resumes in-process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from cotrain.generate import GenerateConfig, GenerationReport, generate
from cotrain.staging import STAGING_DIR, Staging
from sim_env.primitives import PrimitiveSceneConfig, write_primitive_package

IMAGE_SIZE = (96, 64)  # width, height


@dataclass(frozen=True)
class Generated:
    package: Path
    dataset: Path
    config: GenerateConfig
    report: GenerationReport  # of the resumed run
    killed_with: int  # episodes staged when the first run was killed
    staged: dict[int, dict[str, np.ndarray]]  # slot -> values as staged, before finalizing


def _staged_count(dataset: Path) -> int:
    return len(Staging(dataset).episodes()) if (dataset / STAGING_DIR).is_dir() else 0


def _generate_and_kill(config: GenerateConfig, dataset: Path, log: Path) -> int:
    """Run the CLI until one episode is staged, SIGKILL it; returns the staged count."""
    command = [
        sys.executable, "-m", "twinbench_cli", "cotrain", "generate", "--env", config.envs[0],
        "--episodes", str(config.episodes), "--seed", str(config.seed),
        "--image-size", "x".join(map(str, config.image_size)),
        "--tail-steps", str(config.tail_steps), "-o", str(dataset),
    ]  # fmt: skip
    with log.open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 120
        while _staged_count(dataset) < 1 and process.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    count = _staged_count(dataset)
    assert count >= 1, f"the generate subprocess staged nothing:\n{log.read_text()}"
    return count


@pytest.fixture(scope="session")
def small_package(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cotrain_pkg") / "cube_bowl"
    write_primitive_package(
        root, PrimitiveSceneConfig(camera_size=IMAGE_SIZE, n_initial_conditions=4, seed=3)
    )
    return root


@pytest.fixture(scope="session")
def generated(tmp_path_factory, small_package) -> Generated:
    work = tmp_path_factory.mktemp("cotrain_data")
    dataset = work / "dataset"
    config = GenerateConfig(
        envs=(str(small_package),), episodes=3, seed=7, image_size=IMAGE_SIZE, tail_steps=2
    )
    killed_with = _generate_and_kill(config, dataset, work / "killed.log")
    staged = {
        slot: episode.values()
        for (_, slot), episode in Staging(dataset).episodes().items()
        if episode.success
    }

    def keep(episode) -> None:
        if episode.success:
            staged[episode.slot] = episode.values()

    report = generate(dataset, config, on_episode=keep)
    return Generated(small_package, dataset, config, report, killed_with, staged)
