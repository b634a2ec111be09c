"""Real capture sizes: the working size, SfM's plan (keypoint cap, matching, threads), its
measured peak memory, and what a failed or killed SfM leaves behind (nothing)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pycolmap
import pytest
from PIL import Image
from typer.testing import CliRunner

from reconstruct import resources, sfm_job
from reconstruct.cli import reconstruct_app
from reconstruct.errors import ReconstructError
from reconstruct.isolated import ChildFailed
from reconstruct.sfm import SfmConfig, SfmPlan, plan_sfm
from reconstruct.stages import run_pipeline

GB = 1 << 30


def test_working_size_follows_the_memory_not_the_core_count() -> None:
    assert resources.working_size(16 * GB, cores=2) == 1920
    assert resources.working_size(16 * GB, cores=64) == 1920  # threads shrink instead
    assert resources.working_size(int(3.5 * GB), cores=2) == 1600
    assert resources.working_size(int(2.5 * GB), cores=2) == 1280
    assert resources.working_size(1 * GB, cores=2) == 800  # the smallest, even when short
    sizes = [resources.working_size(m * GB // 4, cores=2) for m in range(2, 40)]
    assert sizes == sorted(sizes)  # more memory never gives smaller images


def test_available_memory_is_plausible() -> None:
    assert 64 << 20 < resources.available_memory() < 1 << 50
    assert resources.cpu_count() >= 1


def plan(config: SfmConfig | None = None, **kw: Any) -> SfmPlan:
    args = {"count": 25, "source": "photos", "image_size": 1558, "memory": 16 * GB, "cores": 2}
    args.update(kw)
    return plan_sfm(config or SfmConfig(), **args)


def test_matching_is_exhaustive_for_photo_sets_and_sequential_for_videos() -> None:
    assert plan().matching == "exhaustive" and plan().dense
    assert plan(source="video").matching == "sequential"
    assert plan(count=61).matching == "sequential"  # a large photo set
    assert not plan(count=41).dense
    assert plan(SfmConfig(matching="exhaustive"), source="video").matching == "exhaustive"


def test_threads_and_the_memory_limit_follow_the_memory() -> None:
    roomy = plan(cores=8)
    assert roomy.extract_threads == roomy.match_threads == 8
    assert roomy.memory_limit == int(0.9 * 16 * GB)
    # 1.6 GB to plan with, 0.4 GB of it the base: 2 extraction threads at 1558 px (0.55 GB
    # each), 2 guided-matching ones (6k keypoints: 0.47 GB each)
    tight = plan(cores=8, memory=2 * GB)
    assert tight.extract_threads == tight.match_threads == 2
    unguided = plan(SfmConfig(guided_max_keypoints=0), cores=8, memory=2 * GB)
    assert unguided.match_threads == 8
    assert plan(cores=8, memory=GB // 2).extract_threads == 1  # never none
    assert plan(image_size=1000).image_size == 1000 and plan(image_size=4000).image_size == 1600
    fixed = plan(SfmConfig(threads=3, memory_limit_mb=2048), cores=8)
    assert (fixed.extract_threads, fixed.match_threads, fixed.memory_limit) == (3, 3, 2 * GB)


def test_the_keypoint_cap_reaches_pycolmap() -> None:
    config = SfmConfig(max_features=3000, dense_features=5000)
    for count, keypoints, dense in ((10, 5000, True), (100, 3000, False)):
        chosen = plan(config, count=count)
        options = sfm_job.extraction_options(config, chosen)
        assert chosen.keypoints == options.sift.max_num_features == keypoints
        assert options.sift.estimate_affine_shape == options.sift.domain_size_pooling == dense
        assert options.num_threads == chosen.extract_threads
        assert options.max_image_size == chosen.image_size


def test_keypoints_beyond_the_cap_are_dropped_smallest_scale_first(
    tmp_path: Path, canvas: Callable[[int, int, int], np.ndarray]
) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for i in range(2):
        Image.fromarray(canvas(400, 300, i)).save(images / f"{i}.png")
    db = tmp_path / "db.db"
    options = pycolmap.FeatureExtractionOptions()
    options.num_threads = 1
    pycolmap.extract_features(db, images, extraction_options=options)
    with pycolmap.Database.open(db) as database:
        before = {
            i.image_id: np.asarray(database.read_keypoints(i.image_id))
            for i in database.read_all_images()
        }
    assert min(len(k) for k in before.values()) > 150
    detected, kept, most = sfm_job.cap_keypoints(db, 150)
    assert (detected, kept, most) == (sum(len(k) for k in before.values()), 300, 150)
    with pycolmap.Database.open(db) as database:
        for image_id, keypoints in before.items():
            after = np.asarray(database.read_keypoints(image_id))
            descriptors = np.asarray(database.read_descriptors(image_id).data)
            assert after.shape == (150, keypoints.shape[1]) and descriptors.shape == (150, 128)
            scale = sfm_job.keypoint_scale(keypoints)
            assert sfm_job.keypoint_scale(after).min() >= np.sort(scale)[-150]


def test_guided_matching_only_for_few_keypoints_and_pairs() -> None:
    config = SfmConfig()
    # the Buddha photos: 13 photos, every pair, 3.4k keypoints on average, 4.8k at most
    assert sfm_job.use_guided(config, plan(count=13), 13, mean=3443, most=4796)
    assert not sfm_job.use_guided(config, plan(count=13), 13, mean=3443, most=7000)
    # a 150-frame video: 1536 pairs of 3.9k keypoints guided (~10 CPU-minutes), of 5k not
    video = plan(count=150, source="video")
    assert sfm_job.image_pairs(config, video, 150) == 1536
    assert sfm_job.use_guided(config, video, 150, mean=3900, most=4900)
    assert not sfm_job.use_guided(config, video, 150, mean=5000, most=6000)
    # small frames (the synthetic scan's 360 px video): cheap at any count
    assert sfm_job.use_guided(config, video, 150, mean=400, most=600)
    assert not sfm_job.use_guided(SfmConfig(guided_max_keypoints=0), video, 150, 400, 600)


def test_guided_matching_and_threads_reach_pycolmap(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, pycolmap.FeatureMatchingOptions, Any]] = []

    def record(name: str) -> Callable[..., None]:
        def call(db: Path, **kwargs: Any) -> None:
            calls.append((name, kwargs["matching_options"], kwargs.get("pairing_options")))

        return call

    monkeypatch.setattr(pycolmap, "match_exhaustive", record("exhaustive"))
    monkeypatch.setattr(pycolmap, "match_image_pairs", record("pairs"))
    config = SfmConfig(sequential_overlap=2, keyframe_every=3)
    names = [f"{i}.jpg" for i in range(7)]
    sfm_job.match(Path("db"), names, config, plan(cores=2), Path("."), guided=True)
    sfm_job.match(Path("db"), names, config, plan(source="video"), Path("."), guided=False)
    (first, options1, _), (second, options2, pairing) = calls
    assert first == "exhaustive" and options1.guided_matching and options1.num_threads == 2
    assert second == "pairs" and not options2.guided_matching
    listed = Path(pairing.match_list_path).read_text().splitlines()
    assert listed[:3] == ["0.jpg 1.jpg", "0.jpg 2.jpg", "0.jpg 3.jpg"]
    Path(pairing.match_list_path).unlink()


@pytest.fixture
def photos(tmp_path: Path, canvas: Callable[[int, int, int], np.ndarray]) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        Image.fromarray(canvas(200, 150, i)).save(folder / f"{i}.jpg", quality=90)
    return folder


JOB = """
from pathlib import Path
import numpy as np

def fake_sfm(request, report):
    report(0.5, "matching (exhaustive)")
    block = np.ones(100 << 18, np.float32)  # 100 MB, touched
    Path(request["model"]).mkdir()
    return {"total": len(request["names"]), "plan_seen": request["plan"], "sum": float(block[0])}
"""


@pytest.fixture
def fake_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sfm stage runs ``testsfm:fake_sfm`` in its child instead of pycolmap."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    (folder / "testsfm.py").write_text(JOB)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])
    )
    monkeypatch.setattr("reconstruct.sfm.JOB", "testsfm:fake_sfm")


def test_the_peak_memory_of_sfm_is_measured_and_recorded(
    photos: Path, tmp_path: Path, fake_job: None
) -> None:
    _, result = run_pipeline(photos, tmp_path / "env", until="sfm", show_progress=False)
    summary = result.summary
    assert summary["total"] == 5 and summary["plan_seen"] == summary["plan"]
    assert summary["plan"]["matching"] == "exhaustive" and summary["plan"]["image_size"] == 200
    memory = summary["memory"]
    assert 100 < memory["peak_mb"] < memory["limit_mb"] < memory["available_mb"]
    assert memory["cores"] == resources.cpu_count()
    assert '"peak_mb"' in (result.out_dir / "summary.json").read_text()


def leftovers(env: Path) -> list[str]:
    return sorted(p.name for p in (env / "work").iterdir() if p.name.startswith("."))


@pytest.mark.parametrize(
    ("failure", "expected", "message"),
    [
        (
            ChildFailed("killed", "matching (exhaustive)", 23 * GB, "killed by SIGKILL"),
            ReconstructError,
            r"killed during 'matching \(exhaustive\)' at 23\.0 GB.*lower "
            r"--max-image-size \(now 200 px\) or --max-features \(now 8192 per image\), or give "
            r"fewer frames \(5 now",
        ),
        (
            ChildFailed("memory", "extracting features", 5 * GB, "passed the limit"),
            ReconstructError,
            r"ran out of memory during 'extracting features'.*--max-image-size",
        ),
        (
            ChildFailed("time", "incremental mapping", GB, "still running after 7200 s"),
            ReconstructError,
            r"took too long.*fewer frames",
        ),
        (
            ChildFailed("crashed", "extracting features", 0, "killed by SIGSEGV; log: *** a"),
            ReconstructError,
            r"crashed during 'extracting features' \(killed by SIGSEGV\): a bug in pycolmap",
        ),
        (KeyboardInterrupt(), KeyboardInterrupt, None),
        (MemoryError(), MemoryError, None),
    ],
)
def test_a_failed_or_interrupted_sfm_leaves_no_folders_and_says_what_to_change(
    photos: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: BaseException,
    expected: type[BaseException],
    message: str | None,
) -> None:
    env = tmp_path / "env"
    run_pipeline(photos, env, until="frames", show_progress=False)

    def fail(*args: Any, **kwargs: Any) -> None:
        assert len(leftovers(env)) == 2  # .sfm.partial-<pid> and .sfm.scratch-<pid> exist
        raise failure

    monkeypatch.setattr("reconstruct.sfm.run_child", fail)
    with pytest.raises(expected, match=message):
        run_pipeline(photos, env, until="sfm", show_progress=False)
    assert leftovers(env) == []
    assert sorted(p.name for p in (env / "work").iterdir()) == ["frames"]


def test_a_killed_run_s_folders_are_removed_by_the_next_run(photos: Path, tmp_path: Path) -> None:
    work = tmp_path / "env" / "work"
    work.mkdir(parents=True)
    dead = 2**22 + 12345  # above the default pid_max: no such process
    alive = os.getppid()
    stale = [f".sfm.partial-{dead}", f".sfm.scratch-{dead}", f".splats.old-{dead}"]
    for name in [*stale, f".mesh.partial-{alive}"]:
        (work / name).mkdir()
        (work / name / "half.bin").write_bytes(b"x")
    run_pipeline(photos, tmp_path / "env", until="frames", show_progress=False)
    assert leftovers(tmp_path / "env") == [f".mesh.partial-{alive}"]  # another live run's


def test_the_size_flags_reach_the_stages(photos: Path, tmp_path: Path) -> None:
    env = tmp_path / "env"
    args = [str(photos), "-o", str(env), "--until", "frames", "--no-progress"]
    result = CliRunner().invoke(reconstruct_app, [*args, "--max-image-size", "100"])
    assert result.exit_code == 0, result.output
    summary = json.loads((env / "work" / "frames" / "summary.json").read_text())
    assert summary["working_size"] == 100 and summary["frames"][0]["width"] == 100
    refused = CliRunner().invoke(reconstruct_app, [*args, "--max-features", "0"])
    assert isinstance(refused.exception, ReconstructError)
    assert "sfm.max_features" in str(refused.exception)
