"""Hostile-input rows for the dashboard: every page rendered over damaged and odd stores.

A row renders one page of the real app (``dashboard/app.py`` through Streamlit's in-process
``AppTest``) over one store. An exception on the page is a traceback; an error or warning it
shows that names the store's file becomes the one ``twinbench: error:`` line; a page that
renders without either is ``handled`` (other warnings, an episode's failure reason, are
content). Damaged stores must be refused by every page that
reads the damaged part; odd but valid stores (markup and Unicode in ids, hundreds of policies,
only failed episodes, no runs) must render.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from benchmarks.hostile_cases import (
    _ONE_LINE,
    ENV_EDITS,
    ENV_FILE_DAMAGE,
    ENV_ID,
    ENV_TEXTS,
    SOURCE_ENV,
    STORE_DAMAGE,
    Case,
    _set,
    _store,
    package_copy,
    registrar,
)
from benchmarks.hostile_more import REHASHED, replace_rehashed
from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord, ResultsStore

RENDER_PAGE = (
    """
import logging, os, sys
def main():
    from pathlib import Path
    import dashboard
    from dashboard.settings import STORE_ENV_VAR
    from streamlit.testing.v1 import AppTest
    from twinbench.errors import TwinbenchError
    for name in [*logging.root.manager.loggerDict, "streamlit"]:
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)  # bare mode's notices
    store, view, envs, env_id = (sys.argv[1:] + ["no-envs", ""])[:4]
    os.environ[STORE_ENV_VAR] = store
    os.environ["TWINBENCH_ENV_PATH"] = envs
    page = AppTest.from_file(str(Path(dashboard.__file__).parent / "app.py"), default_timeout=120)
    page.switch_page(f"views/{view}.py").run()
    picker = [box for box in page.selectbox if box.key == "env"]
    if env_id and picker and env_id in picker[0].options and not page.exception:
        picker[0].set_value(env_id).run()
    for exc in page.exception:
        print("Traceback (most recent call last):", *exc.stack_trace, exc.message, sep="\\n",
              file=sys.stderr)
    if page.exception:
        sys.exit(1)
    shown = [" ".join(str(e.value).split()) for kind in ("error", "warning") for e in getattr(page, kind)]
    shown = [text for text in shown if store in text or (env_id and envs in text)]
    if shown:
        raise TwinbenchError(shown[0])
    print("rendered", view)
"""
    + _ONE_LINE
)

PAGES = ("leaderboard", "sim_real", "episodes", "environments", "submit")
RUN_PAGES = ("leaderboard", "sim_real", "episodes")  # the pages that read runs' configs

CASES: list[Case] = []
case = registrar(CASES)


def _page(store: Callable[[Path], Path], view: str) -> Callable[[Path], list[str]]:
    return lambda folder: ["-c", RENDER_PAGE, str(store(folder)), view]


def _damaged(harm: Callable[[Path], None]) -> Callable[[Path], Path]:
    def store(folder: Path) -> Path:
        path = _store(folder / "run" / "results.sqlite", env=ENV_ID)
        harm(path)
        return path

    return store


def _folder(folder: Path) -> Path:
    (folder / "run" / "results.sqlite").mkdir(parents=True)
    return folder / "run" / "results.sqlite"


DAMAGED: dict[str, Callable[[Path], Path]] = {
    **{name: _damaged(harm) for name, harm in STORE_DAMAGE.items()},
    "is_a_folder": _folder,
}
# what a page does not read cannot stop it: sim_real reads no criteria, environments and
# submit no run configs
UNREAD = {("sim_real", "criteria_bad_json")} | {
    (view, "bad_run_config_json") for view in PAGES if view not in RUN_PAGES
}
for _name, _make in DAMAGED.items():
    for _view in PAGES:
        _reads = (_view, _name) not in UNREAD
        case(f"dashboard/{_view}/store_{_name}", expect="error" if _reads else "ok")(
            _page(_make, _view)
        )


def _episodes(
    policies: list[str], failure: tuple[str, str] | None = None, seeds: int = 2
) -> Callable[[Path], Path]:
    """A valid store over the bundled environment with these policy ids."""

    def store(folder: Path) -> Path:
        path = folder / "run" / "results.sqlite"
        path.parent.mkdir(parents=True)
        with ResultsStore.open(path) as results:
            run = results.add_run({"purpose": "hostile <b>pages</b>"}).run_id
            for index, policy in enumerate(policies):
                for seed in range(seeds):
                    won = failure is None and (index + seed) % 2 == 0
                    kind, reason = failure or (None, None)
                    outcome = EpisodeOutcome(
                        won, 1.0 if won else 0.0, {}, 10, 1.0, 0.1, 0.1, kind, reason
                    )
                    key = EpisodeKey(policy, ENV_ID, _bundled_hash(), 0, seed)
                    results.record_episode(EpisodeRecord(run, key, outcome))
        return path

    return store


@functools.cache
def _bundled_hash() -> str:
    """The bundled package's content hash, so that its episodes are of this version."""
    from sim_env.package import load_package

    return load_package(SOURCE_ENV).content_hash


def _empty(folder: Path) -> Path:
    path = folder / "run" / "results.sqlite"
    path.parent.mkdir(parents=True)
    ResultsStore.open(path).close()
    return path


def _jobs_only(folder: Path) -> Path:
    path = _empty(folder)
    with ResultsStore.open(path) as results:
        results.submit_job("scripted:good", [ENV_ID], 3)
    return path


ODD: dict[str, Callable[[Path], Path]] = {
    "no_store_yet": lambda folder: folder / "run" / "results.sqlite",
    "empty_store": _empty,
    "jobs_only": _jobs_only,
    "markup_ids": _episodes(
        ["<script>alert(1)</script>", "**bold** `x` $y$ [l](javascript:x)", "a|b:c"]
    ),
    "unicode_ids": _episodes(["政策-π0 🤖", "ölçü", "\u202eevil"]),
    "long_ids": _episodes(["p" * 400, "q" * 400]),
    "many_policies": _episodes([f"policy-{index:03d}" for index in range(150)], seeds=1),
    "only_failed_episodes": _episodes(
        ["a", "b"], failure=("policy", "server said: <img src=x onerror=alert(1)>\\n\\x00")
    ),
}
for _name, _make in ODD.items():
    for _view in PAGES:
        case(f"dashboard/{_view}/{_name}", expect="ok")(_page(_make, _view))

case("dashboard/env_detail/store_garbage_pages")(_page(DAMAGED["garbage_pages"], "env_detail"))
case("dashboard/env_detail/markup_ids", expect="ok")(_page(ODD["markup_ids"], "env_detail"))


# --- damaged environment packages on the pages that show packages --------------------------

HOSTILE_ENV = "hostile_pkg"  # the damaged copy's id (its folder's name), beside the bundled ones


def _env_page(damage: Callable[[Path], Any], view: str) -> Callable[[Path], list[str]]:
    """``view`` over a valid store, with a damaged package in TWINBENCH_ENV_PATH picked."""

    def build(folder: Path) -> list[str]:
        damage(package_copy(folder / "envs" / HOSTILE_ENV))
        store = _empty(folder)
        return ["-c", RENDER_PAGE, str(store), view, str(folder / "envs"), HOSTILE_ENV]

    return build


def _edited(path: str, value: Any) -> Callable[[Path], None]:
    def damage(package: Path) -> None:
        raw = yaml.safe_load((package / "env.yaml").read_text())
        _set(path, value)(raw)
        (package / "env.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))

    return damage


def _text(data: bytes) -> Callable[[Path], None]:
    return lambda package: (package / "env.yaml").write_bytes(data)


def _rehashed(rel: str, data: bytes) -> Callable[[Path], None]:
    return lambda package: replace_rehashed(package, rel, data)


# a spec's checks, the file hashes, the geometry behind a valid hash; parser bombs and the
# 64 MB file are the validate rows' (they do not reach a page differently)
PAGE_EDITS = (
    "mass_inf", "camera_width_0", "camera_parent_unknown", "rubric_unknown_kind",
    "format_version_99", "mesh_dotdot", "base_pos_nan", "initial_conditions_empty",
)  # fmt: skip
PACKAGE_DAMAGE: dict[str, Callable[[Path], Any]] = {
    **{name: _edited(*ENV_EDITS[name]) for name in PAGE_EDITS},
    **{name: _text(ENV_TEXTS[name]) for name in ("top_level_list", "not_yaml", "non_utf8")},
    **ENV_FILE_DAMAGE,
    **{f"{name}_rehashed": _rehashed(rel, data) for name, (rel, data) in REHASHED.items()},
}
# without an env.yaml file the folder is no package: it is not listed, and nothing is refused
NOT_A_PACKAGE = {"no_env_yaml", "env_yaml_is_a_folder"}
for _name, _damage in PACKAGE_DAMAGE.items():
    for _view in ("environments", "env_detail"):
        _expect = "ok" if _name in NOT_A_PACKAGE else "error"
        case(f"dashboard/{_view}/package_{_name}", expect=_expect)(_env_page(_damage, _view))
