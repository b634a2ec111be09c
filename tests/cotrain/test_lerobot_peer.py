"""The exported dataset loads in the real lerobot (0.4.4, in its own cached virtualenv made by
``make lerobot-peer``): the same frames, features, lengths and statistics as our reader sees,
and the policy features LeRobot derives from it are ``observation.state``, the cameras (as
``observation.images.<camera>``, VISUAL) and ``action``.

lerobot never enters the project's virtualenv: a script runs in the peer's interpreter, loads
``LeRobotDataset(repo_id=..., root=...)`` offline, and hands every frame back as an npz.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from cotrain import features
from cotrain.lerobot import DatasetReader

REPO = Path(__file__).resolve().parents[2]
PEER = REPO / ".peers" / "lerobot-0.4.4"  # the Makefile's LEROBOT_PEER
PEER_STAMP = PEER / ".installed"
BUILD_TIMEOUT_S = 900  # about 90 s with a warm pip cache
LOAD_TIMEOUT_S = 300
# Both sides decode the same H.264 stream with FFmpeg (PyAV here, torchcodec there): identical
# frames here; another FFmpeg build may round the YUV -> RGB conversion differently. A frame
# off by one would differ by far more wherever the arm moves.
PIXEL_MAX_DIFF, PIXEL_MEAN_DIFF = 2, 0.05

PEER_SCRIPT = """
import json
import sys
import types

# PyPI's torchvision 0.28.0 (torch 2.13's) is a CUDA build: its C++ ops need libtorch_cuda,
# which the CPU torch lacks, and importing it then fails registering fake kernels for ops that
# never loaded ("operator torchvision::nms does not exist"). LeRobotDataset only uses
# torchvision's Python parts, so those registrations are skipped.
sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")

import numpy as np
import torch
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from lerobot.datasets.utils import dataset_to_policy_features

root, out = sys.argv[1], sys.argv[2]
dataset = LeRobotDataset(repo_id="twinbench/peer_check", root=root)
items = [dataset[i] for i in range(len(dataset))]
arrays = {}
for key, value in items[0].items():
    if isinstance(value, torch.Tensor):
        stacked = torch.stack([item[key] for item in items]).numpy()
        if dataset.meta.features[key]["dtype"] == "video":  # lerobot scales uint8 to [0, 1]
            stacked = np.rint(stacked * 255).astype(np.uint8)
        arrays[key] = stacked
np.savez(out + ".npz", **arrays)
policy = dataset_to_policy_features(dataset.meta.features)
meta = {
    "frames": len(dataset),
    "episodes": dataset.num_episodes,
    "fps": dataset.fps,
    "decoder": dataset.video_backend,
    "features": dataset.meta.features,
    "lengths": [int(n) for n in dataset.meta.episodes["length"]],
    "tasks": [item["task"] for item in items],
    "stats": {
        key: {name: np.asarray(value).tolist() for name, value in per.items()}
        for key, per in dataset.meta.stats.items()
    },
    "policy": {key: [ft.type.name, list(ft.shape)] for key, ft in policy.items()},
    "cameras": dataset.meta.camera_keys,
    "video_files": {
        key: str(dataset.meta.get_video_file_path(0, key)) for key in dataset.meta.camera_keys
    },
}
with open(out + ".json", "w") as file:
    json.dump(meta, file)
"""


@functools.cache  # one try per test process, however many tests ask
def _build_failure() -> str:
    """``make lerobot-peer`` under a lock (other test processes may be building it too);
    returns why it failed, or "" once the peer is there."""
    PEER.parent.mkdir(exist_ok=True)
    with (PEER.parent / ".lock").open("w") as lock:
        deadline = time.monotonic() + BUILD_TIMEOUT_S
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return f"another process held {lock.name} for {BUILD_TIMEOUT_S} s"
                time.sleep(1)
        if PEER_STAMP.is_file():
            return ""
        try:
            result = subprocess.run(
                ["make", "--no-print-directory", "lerobot-peer"],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_S,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        return result.stderr[-3000:] if result.returncode else ""


@pytest.fixture(scope="session")
def lerobot_python() -> Path:
    """The peer virtualenv's interpreter, built on first use and cached in .peers/."""
    failure = "" if PEER_STAMP.is_file() else _build_failure()
    if failure:
        message = f"`make lerobot-peer` could not build the lerobot peer virtualenv:\n{failure}"
        if os.environ.get("CI"):  # CI reaches the package registries: a failure is a failure
            pytest.fail(message)
        pytest.skip(message)
    return PEER / "bin" / "python"


@pytest.fixture(scope="module")
def loaded(lerobot_python, generated, tmp_path_factory) -> tuple[dict, dict[str, np.ndarray]]:
    """(what lerobot reports, every frame's arrays) for the generated dataset."""
    work = tmp_path_factory.mktemp("lerobot_peer")
    script = work / "load.py"
    script.write_text(PEER_SCRIPT)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env |= {"HF_HOME": str(work / "hf"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    out = work / "loaded"
    result = subprocess.run(
        [str(lerobot_python), str(script), str(generated.dataset), str(out)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=LOAD_TIMEOUT_S,
    )
    assert result.returncode == 0, f"lerobot failed to load the dataset:\n{result.stderr[-4000:]}"
    meta = json.loads(out.with_suffix(".json").read_text())
    with np.load(out.with_suffix(".npz")) as arrays:
        return meta, {key: arrays[key] for key in arrays.files}


def test_lerobot_sees_our_metadata(loaded, generated):
    meta, _ = loaded
    reader = DatasetReader(generated.dataset)
    assert meta["features"] == reader.info["features"]
    assert (meta["frames"], meta["episodes"], meta["fps"]) == (
        reader.info["total_frames"],
        reader.info["total_episodes"],
        features.FPS,
    )
    assert meta["lengths"] == reader.episodes["length"].tolist()
    assert meta["decoder"] == "torchcodec"
    stats = json.loads((generated.dataset / "meta/stats.json").read_text())
    assert set(meta["stats"]) == set(stats)
    for key, per in stats.items():
        for name, value in per.items():
            np.testing.assert_allclose(meta["stats"][key][name], value, rtol=1e-12, err_msg=key)


def test_lerobot_policies_get_state_cameras_and_action(loaded, generated):
    """What lerobot.datasets.utils.dataset_to_policy_features hands a policy's config."""
    meta, _ = loaded
    height, width = generated.config.image_size[1], generated.config.image_size[0]
    expected = {
        features.STATE: ["STATE", [8]],
        features.ACTIONS: ["ACTION", [8]],
        **{key: ["VISUAL", [3, height, width]] for key in features.IMAGE_KEYS},
    }
    assert meta["policy"] == expected
    visual = [key for key, (kind, _) in meta["policy"].items() if kind == "VISUAL"]
    assert [features.camera_name(key) for key in visual] == list(features.CAMERAS)
    assert meta["cameras"] == list(features.IMAGE_KEYS)
    assert meta["video_files"] == {
        key: f"videos/{key}/chunk-000/file-000.mp4" for key in features.IMAGE_KEYS
    }


def test_lerobot_frames_equal_ours(loaded, generated):
    meta, arrays = loaded
    reader = DatasetReader(generated.dataset)
    episodes = range(len(reader.episodes))
    ours = [reader.episode(e) for e in episodes]
    for key, feature in reader.features.items():
        if feature["dtype"] == "video":
            continue
        expected = np.concatenate([values[key] for values in ours])
        np.testing.assert_array_equal(arrays[key], expected, err_msg=key)
    task_of = dict(zip(reader.tasks["task_index"], reader.tasks.index, strict=True))
    assert meta["tasks"] == [task_of[i] for i in arrays["task_index"]]
    for camera in reader.video_keys:
        frames = np.concatenate([reader.episode_frames(camera, e) for e in episodes])
        theirs = arrays[camera].transpose(0, 2, 3, 1)  # [N, 3, H, W] -> [N, H, W, 3]
        assert theirs.shape == frames.shape
        diff = np.abs(theirs.astype(np.int16) - frames.astype(np.int16))
        assert diff.max() <= PIXEL_MAX_DIFF and diff.mean() <= PIXEL_MEAN_DIFF, (
            f"{camera}: decoded frames differ by up to {diff.max()} (mean {diff.mean():.3f})"
        )
