"""The staging area of a generation run: one directory per finished episode, written atomically.

An episode is written into ``<name>.tmp-<pid>`` and renamed into place only when complete, so
a generation killed at any moment leaves finished episodes and, at worst, a temporary
directory that the next run deletes. ``plan.json`` records the settings the episodes were
drawn with; resuming with other settings is refused rather than mixing two datasets.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cotrain import features
from cotrain.errors import CotrainError
from cotrain.lerobot import image_stats
from cotrain.lerobot.stats import to_json
from cotrain.lerobot.video import VideoConfig, encode_video
from cotrain.scripted import EpisodeRecord

STAGING_DIR = ".staging"
PLAN_FILE = "plan.json"
RECORD_FILE = "episode.json"
VALUES_FILE = "values.npz"
EPISODE_DIR = re.compile(r"env\d+-slot\d+")  # finished episodes; temporary ones add ".tmp-PID"


@dataclass(frozen=True)
class StagedEpisode:
    """A finished episode in the staging area (failed ones keep only their record)."""

    env_index: int
    slot: int
    success: bool
    progress: float
    length: int
    seconds: float  # wall time to simulate, render and encode it
    directory: Path
    image_stats: Mapping[str, Mapping[str, np.ndarray]]
    variation: Mapping[str, Any]

    def values(self) -> dict[str, np.ndarray]:
        """The non-visual features, [T, *shape]."""
        with np.load(self.directory / VALUES_FILE, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}

    def video(self, camera: str) -> Path:
        return self.directory / f"{camera}.mp4"


def _name(env_index: int, slot: int) -> str:
    return f"env{env_index:02d}-slot{slot:05d}"


class Staging:
    """``<dataset>/.staging``: the plan and the staged episodes of one generation."""

    def __init__(self, dataset: Path):
        self.root = Path(dataset) / STAGING_DIR

    def open(self, plan: Mapping[str, Any]) -> None:
        """Start a new staging area or resume one made with the same ``plan``."""
        file = self.root / PLAN_FILE
        if file.is_file():
            staged = json.loads(file.read_text())
            for key in sorted(set(staged) | set(plan)):
                if staged.get(key) != plan.get(key):
                    raise CotrainError(
                        f"this unfinished generation was started with {key} = "
                        f"{staged.get(key)!r}, now {plan.get(key)!r}; rerun with the same "
                        f"settings to resume, or remove {self.root} to start over",
                        file=file,
                        field=key,
                    )
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            _write_atomic(file, json.dumps(plan, indent=2))
        for leftover in self.root.glob("*.tmp-*"):  # from a killed run
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)

    def episodes(self) -> dict[tuple[int, int], StagedEpisode]:
        """Every finished episode, by (env index, slot)."""
        found = {}
        for record_file in sorted(self.root.glob(f"*/{RECORD_FILE}")):
            if not EPISODE_DIR.fullmatch(record_file.parent.name):  # a temporary directory
                continue
            record = json.loads(record_file.read_text())
            episode = StagedEpisode(
                env_index=record["env_index"],
                slot=record["slot"],
                success=record["success"],
                progress=record["progress"],
                length=record["length"],
                seconds=record["seconds"],
                directory=record_file.parent,
                image_stats={
                    camera: {name: np.asarray(value) for name, value in per.items()}
                    for camera, per in record["image_stats"].items()
                },
                variation=record["variation"],
            )
            found[(episode.env_index, episode.slot)] = episode
        return found

    def stage(
        self,
        env_index: int,
        slot: int,
        record: EpisodeRecord,
        variation: Mapping[str, Any],
        seconds: float,
        video: VideoConfig,
    ) -> StagedEpisode:
        """Write one episode (videos and values only when it succeeded) and publish it."""
        final = self.root / _name(env_index, slot)
        temporary = self.root / f"{final.name}.tmp-{os.getpid()}"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
        stats: dict[str, dict[str, np.ndarray]] = {}
        if record.success:
            for camera, frames in record.images.items():
                encode_video(temporary / f"{camera}.mp4", frames, features.FPS, video)
                stats[camera] = image_stats(frames)
            np.savez(
                temporary / VALUES_FILE,
                **{
                    features.JOINT_POSITION: record.joint_position,
                    features.GRIPPER_POSITION: record.gripper_position,
                    features.ACTIONS: record.actions,
                    features.VELOCITY_ACTIONS: record.velocity_actions,
                },
            )
        content = {
            "env_index": env_index,
            "slot": slot,
            "success": record.success,
            "progress": record.progress,
            "length": record.length,
            "seconds": seconds,
            "image_stats": to_json(stats),
            "variation": dict(variation),
        }
        (temporary / RECORD_FILE).write_text(json.dumps(content))
        if final.exists():  # a slot finished twice (resumed while another run was alive)
            shutil.rmtree(temporary)
        else:
            os.rename(temporary, final)
        return StagedEpisode(
            env_index=env_index,
            slot=slot,
            success=record.success,
            progress=record.progress,
            length=record.length,
            seconds=seconds,
            directory=final,
            image_stats=stats,
            variation=dict(variation),
        )

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, path)
