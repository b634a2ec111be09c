"""End to end in real headless Chromium: ``twinbench dashboard`` serves every page over the
fixture's store; the leaderboard numbers and the correlation figure appear, and a job
submitted in the browser lands in the store. Screenshots go to test-artifacts/dashboard/."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from evaluate.store import ResultsStore

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
STARTUP_S = 90.0
WAIT_MS = 45_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM}"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Dashboard:
    """A ``twinbench dashboard`` subprocess and where it logs."""

    url: str
    process: subprocess.Popen
    log: Path

    def wait_ready(self) -> None:
        """Until /_stcore/health answers ok; fails with the log if it exits or takes too long."""
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"dashboard exited with {self.process.returncode}:\n{self.log.read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        return
            except OSError:
                time.sleep(0.25)
        pytest.fail(f"dashboard did not answer within {STARTUP_S:g} s:\n{self.log.read_text()}")


@contextmanager
def serve(store: Path, envs: Path, log: Path) -> Iterator[Dashboard]:
    """``twinbench dashboard --store STORE --port …`` with ``TWINBENCH_ENV_PATH=ENVS``,
    started (not yet ready), stopped afterwards."""
    port = _free_port()
    command = [
        str(Path(sys.executable).parent / "twinbench"), "dashboard",
        "--store", str(store), "--port", str(port),
    ]  # fmt: skip
    env = {**os.environ, "TWINBENCH_ENV_PATH": str(envs)}
    with open(log, "w") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield Dashboard(f"http://127.0.0.1:{port}", server, log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


@pytest.fixture
def dashboard(results_dir, tmp_path: Path) -> Iterator[Dashboard]:
    """The dashboard over the fixture's results directory."""
    with serve(results_dir.store, results_dir.envs, tmp_path / "dashboard.log") as server:
        yield server


@pytest.fixture
def browser_page(tmp_path: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1700},
        )
        context.set_default_timeout(WAIT_MS)
        try:
            yield context.new_page()
        finally:
            context.close()


def _settle(page) -> None:
    """Wait until Streamlit has finished running the page's script."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=WAIT_MS
    )


def _open(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNavLink"]', has_text=title).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()


def _shot(page, name: str) -> None:
    _settle(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox or multiselect labelled ``label``."""
    widget = page.locator('[data-testid="stSelectbox"], [data-testid="stMultiSelect"]').filter(
        has=page.get_by_text(label, exact=True)
    )
    widget.locator("input").click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")  # a multiselect stays open, hiding the page from the a11y tree


def test_every_page_in_chromium(dashboard, browser_page, results_dir, facts):
    """The server starts while Chromium does; then every page, in the order a user would go."""
    page = browser_page
    dashboard.wait_ready()
    page.goto(dashboard.url)
    page.get_by_role("heading", name="Leaderboard").wait_for()
    _choose(page, "Run", facts.RUN_ID)
    # the grid draws on a canvas; its cells are also in the DOM, hidden, for screen readers
    page.get_by_text("0.30 – 0.95", exact=True).wait_for(state="attached")  # pi0: 3 of 4
    page.locator(
        '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
    ).first.wait_for()
    _shot(page, "leaderboard")

    _open(page, "Sim vs real")
    page.get_by_text("Sim vs source world: success rates").wait_for()
    figure = page.locator('[data-testid="stVegaLiteChart"]').first
    figure.locator("canvas, svg").first.wait_for()
    assert figure.bounding_box()["height"] > 200
    page.get_by_text("octo, scripted").first.wait_for(state="attached")  # ranks differ
    page.get_by_text("Plays real:").wait_for()  # the saved report names its real side
    _shot(page, "sim_real")

    _open(page, "Episodes")
    _choose(page, "Run", facts.RUN_ID)
    page.get_by_text(f"Episode #0: pi0 in {facts.BUNDLED_ENV}").wait_for()
    page.get_by_text("grasp", exact=True).first.wait_for(state="attached")  # criteria table
    page.wait_for_function(  # the recorded mp4 loads and plays in the browser
        "() => document.querySelector('video')?.readyState >= 2", timeout=WAIT_MS
    )
    _shot(page, "episodes")

    _open(page, "Environments")
    page.get_by_text("put the cube in the bowl").first.wait_for()
    images = page.locator('[data-testid="stImage"] img')
    images.nth(3).wait_for()  # 2 rendered cameras + 2 shipped previews
    _shot(page, "environments")

    _open(page, "Submit")
    page.get_by_label("Policy server").fill("openpi://127.0.0.1:8777")
    _choose(page, "Environments", facts.BUNDLED_ENV)
    page.get_by_role("button", name="Submit job").click()
    page.get_by_text("Queued job-").wait_for()
    with ResultsStore.open(results_dir.store, create=False) as store:
        job = store.jobs()[-1]
    assert (job.policy_spec, job.envs, job.state) == (
        "openpi://127.0.0.1:8777", (facts.BUNDLED_ENV,), "queued"
    )  # fmt: skip
    page.get_by_text(job.job_id).first.wait_for(state="attached")
    with ResultsStore.open(results_dir.store, create=False) as store:
        store.claim_job("e2e-worker")  # a worker takes the oldest job; the list refreshes itself
    page.locator('[role="gridcell"]', has_text="running").wait_for(state="attached")
    _shot(page, "submit")


def _images_loaded(page, count: int) -> None:
    """Until ``count`` of the page's images have arrived and decoded."""
    page.wait_for_function(
        "n => [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
        ".filter(i => i.complete && i.naturalWidth > 0).length >= n",
        arg=count,
        timeout=WAIT_MS,
    )


def test_environment_view_in_chromium(browser_page, results_dir, tmp_path, facts):
    """The environment view (issue 21) of a bundled package, opened by its URL, then of a
    package built here: each camera's render and overlay arrive as images, the legend names
    the objects, nothing raises."""
    from sim_env.primitives import PrimitiveSceneConfig, write_primitive_package

    envs = tmp_path / "envs"
    shutil.copytree(results_dir.envs, envs)
    built = PrimitiveSceneConfig(distractors=1, n_initial_conditions=2, seed=5)
    write_primitive_package(envs / "built_scan", built)
    page = browser_page
    with serve(results_dir.store, envs, tmp_path / "dashboard.log") as server:
        server.wait_ready()
        page.goto(f"{server.url}/env_detail?env={facts.BUNDLED_ENV}")
        page.get_by_role("heading", name="Environment view", exact=True).wait_for()
        page.get_by_text("cube (task object)").wait_for()
        _images_loaded(page, 4)  # render and overlay of both cameras
        assert page.locator('[data-testid="stException"]').count() == 0
        _shot(page, "environment_view")

        _choose(page, "Environment", "built_scan")
        page.get_by_text("block0").first.wait_for()
        page.get_by_text("bowl (container)").wait_for()
        _images_loaded(page, 4)
        assert page.locator('[data-testid="stException"]').count() == 0
        _shot(page, "environment_view_built")
        _click_to_place_the_base(page, envs / "built_scan")


def _click_to_place_the_base(page, root: Path) -> None:
    """A click on the table in the exterior view, then the button: the package's robot base
    stands at the clicked point (the same edit as twinbench env edit --base)."""
    import numpy as np

    from dashboard.env_view import build_view
    from sim_env.overlay import Pinhole
    from sim_env.package import load_package

    target = np.array([-0.04, 0.05, 0.0])  # m: a little off the base's place
    [exterior, _] = build_view(root).cameras
    image = page.frame_locator('iframe[title*="streamlit_image_coordinates"]').locator("#image")
    image.wait_for()
    page.wait_for_function(  # the component sized its image
        "() => [...document.querySelectorAll('iframe')].some(f => f.offsetHeight > 100)"
    )
    box = image.bounding_box()
    shown = (round(box["width"]), round(box["height"]))
    camera = Pinhole(exterior.pinhole.view, exterior.pinhole.intrinsics.scaled(*shown))
    x, y = camera.project(target[None])[0]
    image.click(position={"x": x - 0.5, "y": y - 0.5})
    page.get_by_text("twinbench env edit built_scan --base").wait_for()
    page.get_by_role("button", name="Move the robot base here").click()
    page.get_by_text("Moved the robot base of built_scan").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    _shot(page, "environment_view_base_moved")
    base = load_package(root).spec.robot.base_pose
    np.testing.assert_allclose(base.pos, target, atol=0.01)  # a pixel is ~4 mm there
