"""A small results directory the dashboard tests read: a store with one run (3 policies x 2
environments, criteria, a video, an episode that ended early), a queued job, a real-world CSV
next to it, a saved correlate report, and a user environment package with preview PNGs."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from dashboard.settings import STORE_ENV_VAR
from evaluate.correlation import BootstrapConfig, correlate, load_tables
from evaluate.report import ReportInputs, write_report
from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord, ResultsStore
from sim_env.package import load_spec_checked
from sim_env.registry import BUNDLED_DIR

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
BUNDLED_ENV = "primitive_cube_bowl"
USER_ENV = "tabletop_previewed"  # a copy of the bundled package, shipping previews/*.png
LOST_ENV = "drawer_lost"  # named by the store, found nowhere
RUN_ID = "run-a"
CRITERIA = ("grasp", "lift", "place")
OUTCOMES: dict[tuple[str, str], list[int]] = {
    ("pi0", BUNDLED_ENV): [1, 1, 1, 0],
    ("octo", BUNDLED_ENV): [1, 0, 0, 0],
    ("scripted", BUNDLED_ENV): [1, 1, 0, 0],
    ("pi0", USER_ENV): [1, 1, 0, 0],
    ("octo", USER_ENV): [0, 0, 0, 0],
    ("scripted", USER_ENV): [1, 1, 1, 1],
}
"""Per (policy, env), the success of episodes with seeds 0, 1, 2, 3."""
EARLY_END = ("octo", USER_ENV, 3)  # (policy, env, seed) of the episode that ended early
FAILURE_REASON = "policy server openpi://127.0.0.1:8000 went away"
VIDEO = "videos/pi0-seed0.mp4"  # episode pi0 / bundled / seed 0; the file exists
MISSING_VIDEO = "videos/pi0-seed1.mp4"  # episode pi0 / bundled / seed 1; the file does not
REAL_CSV = "source_world.csv"
REAL_COUNTS = {  # (policy, env) -> (successes, trials); octo and scripted swap ranks in BUNDLED_ENV
    ("pi0", BUNDLED_ENV): (8, 10),
    ("octo", BUNDLED_ENV): (5, 10),
    ("scripted", BUNDLED_ENV): (3, 10),
    ("pi0", USER_ENV): (6, 10),
    ("octo", USER_ENV): (1, 10),
    ("scripted", USER_ENV): (9, 10),
}


@dataclass(frozen=True)
class ResultsDir:
    """Where the fixture put things."""

    root: Path
    store: Path
    envs: Path  # a TWINBENCH_ENV_PATH directory holding USER_ENV


def _criteria(success: int, seed: int, ended_early: bool) -> dict[str, int | None]:
    if success:
        return {"grasp": 10 + seed, "lift": 20 + seed, "place": 35 + seed}
    reached = 0 if ended_early or seed % 2 else 1
    return {name: (10 + seed if i < reached else None) for i, name in enumerate(CRITERIA)}


def _record_run(store: ResultsStore) -> None:
    env_hash = load_spec_checked(BUNDLED_DIR / BUNDLED_ENV).content_hash  # USER_ENV: same content
    store.add_run({"policies": ["pi0", "octo", "scripted"]}, run_id=RUN_ID)
    for (policy, env), successes in OUTCOMES.items():
        for seed, success in enumerate(successes):
            ended_early = (policy, env, seed) == EARLY_END
            criteria = _criteria(success, seed, ended_early)
            reached = sum(step is not None for step in criteria.values())
            video = (
                {0: VIDEO, 1: MISSING_VIDEO}.get(seed)
                if (policy, env) == ("pi0", BUNDLED_ENV)
                else None
            )
            outcome = EpisodeOutcome(
                success=bool(success),
                progress=reached / len(CRITERIA),
                criteria=criteria,
                length_steps=20 if ended_early else 60,
                wall_time_s=4.0,
                latency_mean_s=0.05,
                latency_max_s=0.09,
                failure_kind="policy" if ended_early else None,
                failure_reason=FAILURE_REASON if ended_early else None,
                video_path=video,
            )
            key = EpisodeKey(policy, env, env_hash, seed % 2, seed)
            store.record_episode(EpisodeRecord(RUN_ID, key, outcome))
    store.add_run({"label": "sim: a run elsewhere"}, run_id="run-b")
    outcome = EpisodeOutcome(True, 1.0, {"open": 5}, 30, 2.0, 0.05, 0.06)
    store.record_episode(
        EpisodeRecord("run-b", EpisodeKey("pi0", LOST_ENV, "e" * 64, 0, 0), outcome)
    )


def _write_video(path: Path, size: tuple[int, int] = (160, 96), frames: int = 30) -> None:
    """A real H.264 mp4 (a square sliding across), so the browser can play it."""
    writer = imageio_ffmpeg.write_frames(
        str(path), size, fps=15, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=16
    )
    writer.send(None)
    for i in range(frames):
        frame = np.full((size[1], size[0], 3), 40, np.uint8)
        frame[30:60, 4 * i : 4 * i + 30] = (220, 80, 40)
        writer.send(frame.tobytes())
    writer.close()


def _user_env(envs: Path) -> None:
    package = envs / USER_ENV
    shutil.copytree(BUNDLED_DIR / BUNDLED_ENV, package)
    (package / "previews").mkdir()
    for i, colour in enumerate(((200, 60, 60), (60, 60, 200))):
        image = np.zeros((90, 160, 3), np.uint8) + np.array(colour, np.uint8)
        Image.fromarray(image).save(package / "previews" / f"camera_{i}.png")


def _real_side(root: Path) -> None:
    lines = ["policy,env,successes,trials"]
    lines += [f"{p},{e},{k},{n}" for (p, e), (k, n) in REAL_COUNTS.items()]
    (root / REAL_CSV).write_text("\n".join(lines) + "\n")
    sim = load_tables(root / "results.sqlite", run_ids=[RUN_ID])["success"]
    real = load_tables(root / REAL_CSV)["success"]
    config = BootstrapConfig(n_resamples=200)
    report = correlate(sim, real, "success", config)
    inputs = ReportInputs(str(root / "results.sqlite"), REAL_CSV, "success", config)
    write_report(root / "correlation", {"success": report}, inputs)


@pytest.fixture(scope="session")
def results_template(tmp_path_factory: pytest.TempPathFactory) -> ResultsDir:
    """Built once; tests get copies (:func:`results_dir`)."""
    base = tmp_path_factory.mktemp("dashboard")
    root, envs = base / "results", base / "envs"
    root.mkdir()
    envs.mkdir()
    with ResultsStore.open(root / "results.sqlite") as store:
        _record_run(store)
        store.submit_job("openpi://127.0.0.1:8000", [BUNDLED_ENV], 4)
    (root / "videos").mkdir()
    _write_video(root / VIDEO)
    _real_side(root)
    _user_env(envs)
    return ResultsDir(root, root / "results.sqlite", envs)


@pytest.fixture
def results_dir(results_template: ResultsDir, tmp_path: Path) -> ResultsDir:
    """A private copy of the results directory (tests may add jobs or delete files)."""
    root = tmp_path / "results"
    shutil.copytree(results_template.root, root)
    return ResultsDir(root, root / "results.sqlite", results_template.envs)


@pytest.fixture
def dashboard_env(results_dir: ResultsDir, monkeypatch: pytest.MonkeyPatch) -> Iterator[ResultsDir]:
    """Point the app at the copy, as ``twinbench dashboard --store`` would."""
    monkeypatch.setenv(STORE_ENV_VAR, str(results_dir.store))
    monkeypatch.setenv("TWINBENCH_ENV_PATH", str(results_dir.envs))
    yield results_dir


@pytest.fixture(scope="session")
def facts() -> ModuleType:
    """This module: the constants the fixture was built from, for tests to check against."""
    return sys.modules[__name__]


def run_page(view: str) -> AppTest:
    """Run one page of the real app (through its st.navigation entry point) once."""
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.switch_page(f"views/{view}.py").run()
    assert not app.exception, [e.message for e in app.exception]
    return app


@pytest.fixture
def open_page() -> Callable[[str], AppTest]:
    """Pages over whatever store the environment names (tests set it)."""
    return run_page


@pytest.fixture
def page(dashboard_env: ResultsDir) -> Callable[[str], AppTest]:
    """Pages over a private copy of the fixture's results directory."""
    return run_page
