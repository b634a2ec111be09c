"""The LeRobot v3.0 writer, reader and validator: synthetic round trips across file rollovers,
the features LeRobot policies read by name, and every kind of breakage the validator must name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cotrain import features
from cotrain.errors import DatasetError
from cotrain.lerobot import (
    DatasetReader,
    DatasetSpec,
    DatasetWriter,
    EpisodeInput,
    FileLimits,
    VideoConfig,
    encode_video,
    image_stats,
    validate,
)
from cotrain.lerobot.stats import aggregate, array_stats

CAM = "observation.images.cam"
FEATURES = {
    CAM: {"dtype": "video", "shape": [16, 24, 3], "names": ["height", "width", "channels"]},
    "observation.state": {"dtype": "float32", "shape": [3], "names": ["a", "b", "c"]},
    "grip": {"dtype": "float32", "shape": [1], "names": ["g"]},
    "action": {"dtype": "float32", "shape": [2], "names": {"motors": ["u", "v"]}},
}
DATA_FILE = "data/chunk-000/file-000.parquet"
EPISODES_FILE = "meta/episodes/chunk-000/file-000.parquet"


def _synthetic(root: Path, lengths: list[int], limits: FileLimits) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    writer = DatasetWriter(
        root / "ds", DatasetSpec(FEATURES, fps=15, robot_type="toy", limits=limits)
    )
    written = []
    for e, length in enumerate(lengths):
        frames = rng.integers(0, 255, (length, 16, 24, 3), dtype=np.uint8)
        video = root / f"ep{e}.mp4"
        encode_video(video, frames, 15, VideoConfig())
        values = {
            "observation.state": rng.normal(size=(length, 3)).astype(np.float32),
            "grip": rng.uniform(size=(length, 1)).astype(np.float32),
            "action": rng.normal(size=(length, 2)).astype(np.float32),
        }
        writer.add_episode(
            EpisodeInput(f"task {e % 2}", values, {CAM: video}, {CAM: image_stats(frames)})
        )
        written.append(values)
    writer.finalize()
    return written


def test_round_trip_across_file_and_chunk_rollover(tmp_path):
    lengths = [5, 9, 3, 7, 6]
    limits = FileLimits(chunks_size=2, data_files_size_in_mb=0.0002, video_files_size_in_mb=0.002)
    written = _synthetic(tmp_path, lengths, limits)
    root = tmp_path / "ds"
    summary = validate(root)
    assert (summary.episodes, summary.frames, len(summary.tasks)) == (5, sum(lengths), 2)
    assert len(list(root.glob("data/chunk-*/file-*.parquet"))) > 2  # several files and chunks
    assert (root / "data/chunk-001").is_dir()
    assert len(list(root.glob(f"videos/{CAM}/chunk-*/file-*.mp4"))) > 1
    reader = DatasetReader(root)
    for e, values in enumerate(written):
        read = reader.episode(e)
        np.testing.assert_array_equal(read["observation.state"], values["observation.state"])
        np.testing.assert_array_equal(read["grip"], values["grip"][:, 0])
        np.testing.assert_allclose(read["timestamp"], np.arange(lengths[e]) / 15, atol=1e-6)
    assert [len(f) for _, f in sorted(reader.iter_episode_frames(CAM))] == lengths


def test_camera_names_map_to_lerobot_image_keys():
    for camera in features.CAMERAS:
        key = features.image_key(camera)
        assert key == f"observation.images.{camera}" and features.camera_name(key) == camera
    assert tuple(map(features.image_key, features.CAMERAS)) == features.IMAGE_KEYS
    for other in (features.STATE, features.EXTERIOR, "observation.images.", "observation.image"):
        assert features.camera_name(other) is None, other
    video_keys = [
        k
        for k, ft in features.droid_features(features.VIDEO_SIZE).items()
        if ft["dtype"] == "video"
    ]
    assert video_keys == list(features.IMAGE_KEYS)


def test_writer_refuses_a_camera_under_a_bare_name(tmp_path):
    bare = {"cam" if k == CAM else k: ft for k, ft in FEATURES.items()}
    with pytest.raises(DatasetError, match=r"'observation\.images\.cam'") as e:
        DatasetWriter(tmp_path / "ds", DatasetSpec(bare, fps=15, robot_type="toy"))
    assert e.value.field == "cam"


def test_stats_aggregate_like_one_pass():
    rng = np.random.default_rng(1)
    parts = [rng.normal(size=(n, 4)) for n in (3, 10, 1)]
    combined, whole = aggregate([array_stats(p) for p in parts]), array_stats(np.concatenate(parts))
    for name in ("min", "max", "mean", "std", "count"):
        np.testing.assert_allclose(combined[name], whole[name])
    frames = rng.integers(0, 255, (4, 5, 6, 3), dtype=np.uint8)
    stats = image_stats(frames)
    assert stats["mean"].shape == (3, 1, 1) and stats["count"].tolist() == [4]
    np.testing.assert_allclose(stats["std"][:, 0, 0], (frames / 255.0).reshape(-1, 3).std(0))


@pytest.fixture
def broken(generated, tmp_path) -> Path:
    """A private copy of the generated dataset for a test to break."""
    return Path(shutil.copytree(generated.dataset, tmp_path / "copy"))


def _rewrite(path: Path, edit) -> None:
    pq.write_table(edit(pq.read_table(path)), path)


def test_missing_rows_are_a_frame_count_error(broken):
    def drop_last_row_of_episode_1(table: pa.Table) -> pa.Table:
        rows = np.flatnonzero(table.column("episode_index").to_numpy() == 1)
        return table.take(np.setdiff1d(np.arange(table.num_rows), rows[-1:]))

    _rewrite(broken / DATA_FILE, drop_last_row_of_episode_1)
    with pytest.raises(
        DatasetError, match=r"episode 1 has \d+ rows, meta/episodes says length"
    ) as e:
        validate(broken)
    assert e.value.file.endswith(DATA_FILE) and e.value.field == "episode_index"


def test_short_video_span_is_a_frame_count_error(broken):
    wrist = features.image_key(features.WRIST)
    column = f"videos/{wrist}/to_timestamp"

    def shorten(table: pa.Table) -> pa.Table:
        values = table.column(column).to_numpy().copy()
        values[-1] -= 1 / 15
        return table.set_column(table.column_names.index(column), column, pa.array(values))

    _rewrite(broken / EPISODES_FILE, shorten)
    with pytest.raises(DatasetError, match=r"episode 2: \d+ frames between") as e:
        validate(broken)
    assert e.value.file.endswith(f"videos/{wrist}/chunk-000/file-000.mp4")
    assert e.value.field == wrist


def test_non_monotonic_timestamps_are_named(broken):
    def swap(table: pa.Table) -> pa.Table:
        values = table.column("timestamp").to_numpy().copy()
        values[[3, 4]] = values[[4, 3]]
        return table.set_column(
            table.column_names.index("timestamp"), "timestamp", pa.array(values)
        )

    _rewrite(broken / DATA_FILE, swap)
    with pytest.raises(DatasetError, match="timestamps not increasing at frame 4") as e:
        validate(broken)
    assert e.value.field == "timestamp"


@pytest.mark.parametrize(
    ("field", "value", "message", "file", "named"),
    [
        ("codebase_version", "v2.1", "expected 'v3.0'", "meta/info.json", "codebase_version"),
        ("total_frames", 1, "episode lengths sum to", "meta/episodes", "length"),
        ("splits", {"train": "0:1"}, "expected train", "meta/info.json", "splits"),
    ],
)
def test_bad_info_fields_are_named(broken, field, value, message, file, named):
    path = broken / "meta/info.json"
    info = json.loads(path.read_text())
    info[field] = value
    path.write_text(json.dumps(info))
    with pytest.raises(DatasetError, match=message) as e:
        validate(broken)
    assert e.value.file.endswith(file) and e.value.field == named


def test_wrong_vector_shape_is_named(broken):
    path = broken / "meta/info.json"
    info = json.loads(path.read_text())
    info["features"][features.VELOCITY_ACTIONS]["shape"] = [7]
    path.write_text(json.dumps(info))
    with pytest.raises(DatasetError, match="has 8 values") as e:
        validate(broken)
    assert e.value.field == features.VELOCITY_ACTIONS


def test_generated_state_is_the_joints_then_the_gripper(generated):
    """observation.state [8] = joint_position [rad] + gripper_position, with stats for each."""
    reader = DatasetReader(generated.dataset)
    spec = reader.features[features.STATE]
    assert (spec["dtype"], spec["shape"]) == ("float32", [8])
    assert spec["names"] == [*features.JOINTS, "gripper"]
    for e in range(len(reader.episodes)):
        values = reader.episode(e)
        expected = np.concatenate(
            [values[features.JOINT_POSITION], values[features.GRIPPER_POSITION][:, None]], axis=1
        )
        np.testing.assert_array_equal(values[features.STATE], expected)
        row = reader.episodes.iloc[e]
        np.testing.assert_allclose(row[f"stats/{features.STATE}/max"], expected.max(0), rtol=1e-6)
    stats = json.loads((generated.dataset / "meta/stats.json").read_text())
    for name in ("min", "max", "mean", "std"):
        np.testing.assert_allclose(
            stats[features.STATE][name],
            stats[features.JOINT_POSITION][name] + stats[features.GRIPPER_POSITION][name],
            rtol=1e-6,
        )
    assert stats[features.ACTIONS]["count"] == [generated.report.frames]


@pytest.mark.parametrize(
    ("edit", "message", "named"),
    [
        (lambda f: f.pop("observation.state"), "LeRobot policies read", "observation.state"),
        (lambda f: f.pop("action"), "LeRobot policies read", "action"),
        (
            lambda f: f["observation.state"].update(names=features.JOINTS),
            "expected 8 names",
            "observation.state.names",
        ),
        (
            lambda f: f["action"].update(dtype="int64"),
            "expected a float32 vector",
            "action",
        ),
    ],
)
def test_policy_features_are_required(broken, edit, message, named):
    path = broken / "meta/info.json"
    info = json.loads(path.read_text())
    edit(info["features"])
    path.write_text(json.dumps(info))
    with pytest.raises(DatasetError, match=message) as e:
        validate(broken)
    assert e.value.file.endswith("meta/info.json") and e.value.field == f"features.{named}"


def test_missing_episode_stats_of_the_state_are_named(broken):
    column = f"stats/{features.STATE}/mean"
    _rewrite(broken / EPISODES_FILE, lambda t: t.drop_columns([column]))
    with pytest.raises(DatasetError, match="columns missing") as e:
        validate(broken)
    assert e.value.field == column


def _as_exported_before_the_rename(root: Path) -> None:
    """Name the cameras as datasets exported before ``observation.images.<camera>`` did."""
    renames = {features.image_key(camera): camera for camera in features.CAMERAS}
    for path in (root / "meta/info.json", root / "meta/stats.json"):
        content = json.loads(path.read_text())
        table = content.get("features", content)  # info.json's features, or stats.json
        for new, old in renames.items():
            table[old] = table.pop(new)
        path.write_text(json.dumps(content))
    for new, old in renames.items():
        (root / "videos" / new).rename(root / "videos" / old)
    episodes = pq.read_table(root / EPISODES_FILE)
    names = episodes.column_names
    for new, old in renames.items():
        names = [name.replace(f"/{new}/", f"/{old}/") for name in names]
    pq.write_table(episodes.rename_columns(names), root / EPISODES_FILE)


def test_datasets_with_bare_camera_names_are_refused(broken):
    _as_exported_before_the_rename(broken)
    old, expected = features.EXTERIOR, features.image_key(features.EXTERIOR)
    with pytest.raises(DatasetError, match=f"camera '{old}'.*'{expected}'") as e:
        validate(broken)
    assert e.value.file.endswith("meta/info.json") and e.value.field == f"features.{old}"


def test_a_camera_key_must_hold_images(broken):
    path = broken / "meta/info.json"
    info = json.loads(path.read_text())
    info["features"]["observation.images.depth"] = dict(info["features"][features.STATE])
    path.write_text(json.dumps(info))
    with pytest.raises(DatasetError, match="names a camera, but its dtype is 'float32'") as e:
        validate(broken)
    assert e.value.field == "features.observation.images.depth"
