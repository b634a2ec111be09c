"""More hostile-input rows (issue 22's breadth), beside ``benchmarks.hostile_cases``: package
files that pass their hash check yet are bad, YAML's corners, FIFOs that never end, bundles and
wire frames at the edges of their contracts, per-episode CSVs for ``estimate``, numbers Python
cannot parse, photos that decompress to gigapixels, and queue commands."""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.hostile_cases import (
    CLI,
    ENV_ID,
    LOAD_POLICY,
    SERVE_REQUEST,
    STATE,
    Case,
    _bundle,
    _correlate,
    _edit_bundle,
    _edit_env,
    _env_files,
    _eval,
    _field,
    _package,
    _photos,
    _reconstruct,
    _set,
    _store,
    registrar,
)
from sim_env.package.loader import sha256_file

CASES: list[Case] = []
case = registrar(CASES)
NAN, INF = math.nan, math.inf

# --- environment packages: fields beyond the first table -----------------------------------


def _put(key: str, value: Any) -> Callable[[dict], None]:
    return lambda raw: raw.__setitem__(key, value)


def _both(*changes: Callable[[dict], None]) -> Callable[[dict], None]:
    def change(raw: dict) -> None:
        for one in changes:
            one(raw)

    return change


def _render(section: dict) -> Callable[[dict], None]:
    """A ``render:`` section in a version 2 file (where it is allowed), so its own check speaks."""
    return _both(_put("format_version", 2), _put("render", section))


COLOUR = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]
MORE_ENV_EDITS: dict[str, Callable[[dict], None]] = {
    "control_hz_tiny": _put("episode", {"control_hz": 1e-300}),
    "control_hz_inf": _put("episode", {"control_hz": INF}),
    "horizon_huge": _put("episode", {"horizon_steps": 10**12}),
    "horizon_zero": _put("episode", {"horizon_steps": 0}),
    "episode_unknown_field": _put("episode", {"fps": 15}),
    "mass_and_density": _set("objects.0.density", 500.0),
    "density_nan": _both(_set("objects.0.density", NAN), lambda raw: raw["objects"][0].pop("mass")),
    "scene_friction_nan": _set("scene.friction", [NAN, 0.0, 0.0]),
    "scene_no_hulls": _set("scene.collision_hulls", []),
    "background_radius_inf": _set(
        "scene.background", {"image": "meshes/cube.obj", "centre": [0, 0, 0], "radius": INF}
    ),
    "render_colour_unknown_camera": _render({"colour": {"nope": COLOUR}}),
    "render_colour_huge": _render(
        {"colour": {"exterior_image_1_left": [[1e9] * 4 for _ in range(3)]}}
    ),
    "render_unknown_field": _render({"sharpness": 3}),
    "render_in_version_1": _both(_put("format_version", 1), _put("render", {"antialiased": True})),
    "camera_name_duplicate": _set("cameras.1.name", "exterior_image_1_left"),
    "camera_quat_nan": _set("cameras.0.pose.quat", [NAN, 0, 0, 0]),
    "camera_fx_inf": _set("cameras.0.fx", INF),
    "camera_height_negative": _set("cameras.0.height", -180),
    "camera_cx_outside_image": _set("cameras.0.cx", 1e6),
    "cameras_empty": _put("cameras", []),
    "object_name_path": _set("objects.0.name", "../cube"),
    "object_name_empty": _set("objects.0.name", ""),
    "criterion_requires_unknown": _set("rubric.criteria.1.requires", ["ghost"]),
    "criterion_name_duplicate": _set("rubric.criteria.1.name", "reach_cube"),
    "criterion_param_unknown": _set("rubric.criteria.0.params.colour", "red"),
    "criterion_param_string": _set("rubric.criteria.1.params.height", "high"),
    "criteria_empty": _set("rubric.criteria", []),
    "ic_object_missing": lambda raw: raw["initial_conditions"][0]["objects"].pop("bowl"),
    "arm_qpos_beyond_limits": _set("initial_conditions.0.arm_qpos", [10.0] * 7),
    "arm_qpos_strings": _set("initial_conditions.0.arm_qpos", ["a"] * 7),
    "gripper_nan": _set("initial_conditions.0.gripper", NAN),
    "base_quat_zero": _set("robot.base_pose.quat", [0, 0, 0, 0]),
    "base_far_away": _set("robot.base_pose.pos", [1e6, 0, 0]),
    "provenance_missing": lambda raw: raw.pop("provenance"),
    "provenance_file_unlisted": lambda raw: raw["provenance"]["files"].pop("meshes/cube.obj"),
    "splats_missing_file": _set("scene.splats", "splats/none.ply"),
    "mesh_is_a_folder": _set("scene.visual.mesh", "meshes"),
    "name_huge": _set("name", "n" * 100_000),
    "instruction_huge": _set("instruction", "x" * 2_000_000),
    "objects_five_hundred": lambda raw: raw["objects"].extend(
        {**copy.deepcopy(raw["objects"][0]), "name": f"cube{i}"} for i in range(500)
    ),
}
for _name, _change in MORE_ENV_EDITS.items():
    case(f"env/{_name}", isolate=_name == "control_hz_tiny")(_edit_env(_change))


def _yaml_text(edit: Callable[[str], str]) -> Callable[[Path], list[str]]:
    """env.yaml's own text, edited as text (what yaml.safe_dump cannot write)."""

    def build(folder: Path) -> list[str]:
        package = _package(folder)
        text = (package / "env.yaml").read_text()
        (package / "env.yaml").write_text(edit(text))
        return [*CLI, "env", "validate", str(package)]

    return build


case("env/duplicate_key")(_yaml_text(lambda t: t.replace("name: primitive_cube_bowl\n", "name: primitive_cube_bowl\nname: other\n", 1)))  # fmt: skip
case("env/python_tag")(_yaml_text(lambda t: t + "evil: !!python/object/apply:os.system ['true']\n"))
case("env/binary_tag")(_yaml_text(lambda t: t.replace("name: primitive_cube_bowl", "name: !!binary aGVsbG8=", 1)))  # fmt: skip
case("env/tabs_indent")(_yaml_text(lambda t: t.replace("\n  base_pose:", "\n\tbase_pose:", 1)))
case("env/bom", expect="ok")(_yaml_text(lambda t: "\ufeff" + t))
case("env/crlf", expect="ok")(_yaml_text(lambda t: t.replace("\n", "\r\n")))
case("env/nul_byte")(_yaml_text(lambda t: t.replace("put the cube", "put\x00the cube", 1)))
case("env/second_document")(_yaml_text(lambda t: t + "---\nname: other\n"))
case("env/merge_key")(_yaml_text(lambda t: t + "extra:\n  <<: {a: 1}\n"))


def _rehashed(rel: str, data: bytes) -> Callable[[Path], list[str]]:
    """A package file replaced and its sha256 recorded: only the geometry checks can refuse."""

    def build(folder: Path) -> list[str]:
        package = _package(folder)
        replace_rehashed(package, rel, data)
        return [*CLI, "env", "validate", str(package)]

    return build


def replace_rehashed(package: Path, rel: str, data: bytes) -> None:
    """Write ``data`` to the package's file ``rel`` and record its sha256 in env.yaml."""
    (package / rel).write_bytes(data)
    raw = yaml.safe_load((package / "env.yaml").read_text())
    raw["provenance"]["files"][rel] = sha256_file(package / rel)
    (package / "env.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


REHASHED: dict[str, tuple[str, bytes]] = {
    "hull_empty": ("hulls/cube_0.obj", b""),
    "hull_nan": ("hulls/cube_0.obj", b"v nan nan nan\nv 0 0 1\nv 0 1 0\nv 1 0 0\nf 1 2 3\n"),
    "hull_flat": ("hulls/cube_0.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 3\nf 2 3 4\n"),
    "hull_huge": ("hulls/cube_0.obj", b"v 0 0 0\nv 1e30 0 0\nv 0 1e30 0\nv 0 0 1e30\nf 1 2 3\n"),
    "hull_one_point": ("hulls/cube_0.obj", b"v 0 0 0\n"),
    "mesh_garbage": ("meshes/cube.obj", bytes(np.random.default_rng(1).bytes(4096))),
    "mesh_bad_face_index": ("meshes/cube.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 99999\n"),
    "mesh_non_utf8": ("meshes/cube.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\n# caf\xe9\nf 1 2 3\n"),
}
for _name, (_rel, _data) in REHASHED.items():
    case(f"env/{_name}_rehashed")(_rehashed(_rel, _data))


def _fifo(package: Path) -> None:
    (package / "env.yaml").unlink()
    os.mkfifo(package / "env.yaml")


def _dev_zero(package: Path) -> None:
    (package / "env.yaml").unlink()
    (package / "env.yaml").symlink_to("/dev/zero")


case("env/env_yaml_is_a_fifo", isolate=True)(_env_files(_fifo))  # open() blocks for a writer
case("env/env_yaml_is_dev_zero", isolate=True)(_env_files(_dev_zero))  # never ends, size 0

# --- rendering and validating deeper -------------------------------------------------------

case("render/size_1x1", expect="ok")(lambda folder: [*CLI, "env", "render", ENV_ID, "--size", "1x1", "-o", "x.png"])  # fmt: skip
case("render/output_in_proc")(lambda folder: [*CLI, "env", "render", ENV_ID, "-o", "/proc/x.png"])  # fmt: skip


@case("render/broken_package")
def _(folder: Path) -> list[str]:
    _edit_env(_set("objects.0.mass", INF))(folder)
    return [*CLI, "env", "render", str(folder / "pkg"), "-o", "x.png"]


# --- bundles -----------------------------------------------------------------------------

MORE_BUNDLE_EDITS: dict[str, Callable[[dict, Path], Any]] = {
    "image_keys_duplicate": _field("image_keys", ["exterior_image_1_left"] * 2),
    "chunk_length_zero": _field("chunk_length", 0),
    "horizon_zero": _field("open_loop_horizon", 0),
    "image_size_strings": _field("image_size", ["big", "small"]),
    "image_size_three": _field("image_size", [48, 64, 3]),
    "entry_point_installed_wrong_signature": _field(
        "entry_point", "evaluate.policies.scripted:ScriptedPolicy"
    ),
    "entry_point_stdlib": _field("entry_point", "os:system"),
    "entry_point_unicode": _field("entry_point", "pólicy:Good"),
    "entry_point_empty": _field("entry_point", ""),
    "entry_point_number": _field("entry_point", 42),
    "params_not_a_map": _field("params", [1, 2]),
    "safetensors_empty": lambda raw, bundle: (bundle / "model.safetensors").write_bytes(b""),
    "safetensors_huge_header": lambda raw, bundle: (bundle / "model.safetensors").write_bytes(
        (10**15).to_bytes(8, "little") + b"{}"
    ),
    "safetensors_is_a_folder": lambda raw, bundle: _to_folder(bundle / "model.safetensors"),
    "module_is_a_folder": lambda raw, bundle: _to_folder(bundle / "good_policy.py"),
    "module_exits_on_import": lambda raw, bundle: (bundle / "good_policy.py").write_text(
        "raise SystemExit(7)\n"
    ),
}


def _to_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


for _name, _change in MORE_BUNDLE_EDITS.items():
    case(f"bundle/{_name}")(_edit_bundle(_change))
# a camera of the bundle's own naming: the environment it runs in may have it
case("bundle/image_keys_custom_camera", expect="ok")(
    _edit_bundle(_field("image_keys", ["nose_camera"]))
)


def _yaml_fifo(folder: Path) -> list[str]:
    bundle = _bundle(folder)
    (bundle / "policy.yaml").unlink()
    os.mkfifo(bundle / "policy.yaml")
    return ["-c", LOAD_POLICY, f"bundle:{bundle}"]


case("bundle/policy_yaml_is_a_fifo", isolate=True)(_yaml_fifo)
case("bundle/policy_yaml_duplicate_key")(
    lambda folder: _bundle_yaml_text(folder, lambda t: t + "chunk_length: 8\n")
)


def _bundle_yaml_text(folder: Path, edit: Callable[[str], str]) -> list[str]:
    bundle = _bundle(folder)
    (bundle / "policy.yaml").write_text(edit((bundle / "policy.yaml").read_text()))
    return ["-c", LOAD_POLICY, f"bundle:{bundle}"]


# --- the policy server: more frames --------------------------------------------------------

IMAGE = "'observation/exterior_image_1_left'"
MORE_FRAMES: dict[str, tuple[str, str]] = {
    "prompt_number": (
        f"wire.packb({{{STATE}, {IMAGE}: np.zeros((48, 64, 3), np.uint8), 'prompt': 7}})",
        "error",
    ),
    "unknown_keys_ignored": (
        f"wire.packb({{{STATE}, {IMAGE}: np.zeros((48, 64, 3), np.uint8), 'x': 1}})",
        "ok",
    ),
    "image_rgba": (f"wire.packb({{{STATE}, {IMAGE}: np.zeros((48, 64, 4), np.uint8)}})", "error"),
    "image_other_size": (
        f"wire.packb({{{STATE}, {IMAGE}: np.zeros((100, 30, 3), np.uint8)}})",
        "ok",
    ),
    "image_2d": (f"wire.packb({{{STATE}, {IMAGE}: np.zeros((48, 64), np.uint8)}})", "error"),
    "image_huge": (
        f"wire.packb({{{STATE}, {IMAGE}: np.zeros((2000, 2000, 3), np.uint8)}})",
        "error",
    ),
    "gripper_missing": (
        f"wire.packb({{'observation/joint_position': np.zeros(7, np.float32), {IMAGE}: np.zeros((48, 64, 3), np.uint8)}})",
        "error",
    ),
    "gripper_two_values": (
        f"wire.packb({{'observation/joint_position': np.zeros(7, np.float32), 'observation/gripper_position': np.zeros(2, np.float32), {IMAGE}: np.zeros((48, 64, 3), np.uint8)}})",
        "error",
    ),
    "state_column": (
        f"wire.packb({{'observation/joint_position': np.zeros((7, 1), np.float32), 'observation/gripper_position': np.zeros(1, np.float32), {IMAGE}: np.zeros((48, 64, 3), np.uint8)}})",
        "error",
    ),
    "state_bool": (
        f"wire.packb({{'observation/joint_position': np.zeros(7, bool), 'observation/gripper_position': np.zeros(1, np.float32), {IMAGE}: np.zeros((48, 64, 3), np.uint8)}})",
        "error",
    ),
    "state_a_list_is_read": (
        f"wire.packb({{'observation/joint_position': [0.0] * 7, 'observation/gripper_position': [0.0], {IMAGE}: np.zeros((48, 64, 3), np.uint8)}})",
        "ok",  # plain float lists hold the same numbers as the arrays
    ),
    "nested_deep": ("b'\\x91' * 200000 + b'\\xc0'", "error"),
    "map_deep": ("b'\\x81\\xa1k' * 200000 + b'\\xc0'", "error"),
    "array_negative_shape": (
        "msgpack.packb({'observation/joint_position': {b'__ndarray__': True, b'data': b'', b'dtype': '<f4', b'shape': [-7]}})",
        "error",
    ),
    "array_shape_overflow": (
        "msgpack.packb({'observation/joint_position': {b'__ndarray__': True, b'data': b'', b'dtype': '<f4', b'shape': [2**62, 2**62]}})",
        "error",
    ),
    "array_unicode_dtype": (
        "msgpack.packb({'observation/joint_position': {b'__ndarray__': True, b'data': b'\\x00' * 28, b'dtype': '<U1', b'shape': [7]}})",
        "error",
    ),
    "array_bad_dtype_text": (
        "msgpack.packb({'observation/joint_position': {b'__ndarray__': True, b'data': b'', b'dtype': 'no such dtype', b'shape': [0]}})",
        "error",
    ),
    "ext_type": ("msgpack.packb(msgpack.ExtType(5, b'xyz'))", "error"),
    "empty_binary_frame": ("b''", "error"),
    "keys_are_ints": ("b'\\x81\\x01\\x02'", "error"),
}
for _name, (_frame, _expect) in MORE_FRAMES.items():

    def _build(folder: Path, frame: str = _frame) -> list[str]:
        return ["-c", SERVE_REQUEST, str(_bundle(folder)), frame]

    case(f"server/{_name}", expect=_expect)(_build)

# --- estimate: per-episode CSVs ------------------------------------------------------------

REAL = "policy,env,initial_condition,success\n" + "".join(
    f"{policy},e1,{ic},{(ic + k) % 2}\n" for k, policy in enumerate("ab") for ic in range(6)
)
# the twin's episodes: at the real trials' initial conditions and at 6 more, as PPI needs
EPISODES = REAL + "".join(
    f"{policy},e1,{ic},{(ic * 7 + k) % 3 == 0:d}\n"
    for k, policy in enumerate("ab")
    for ic in range(6, 12)
)


def _estimate(sim: str | bytes, real: str | bytes = REAL, *extra: str) -> Callable[[Path], list[str]]:  # fmt: skip
    def build(folder: Path) -> list[str]:
        for name, text in (("sim.csv", sim), ("real.csv", real)):
            (folder / name).write_bytes(text.encode() if isinstance(text, str) else text)
        return [*CLI, "estimate", "--sim", "sim.csv", "--real", "real.csv", *extra]

    return build


HEADER = "policy,env,initial_condition,success\n"
ESTIMATE_CSV: dict[str, tuple[str | bytes, str]] = {
    "good": (EPISODES, "ok"),
    "empty": ("", "error"),
    "header_only": (HEADER, "error"),
    "missing_column": ("policy,env,success\na,e1,1\n", "error"),
    "success_2": (HEADER + "a,e1,0,2\n" + EPISODES.split("\n", 2)[2], "error"),
    "success_word": (HEADER + "a,e1,0,maybe\n" + EPISODES.split("\n", 2)[2], "error"),
    "initial_condition_negative": (HEADER + "a,e1,-1,1\n" + EPISODES.split("\n", 2)[2], "error"),
    "initial_condition_fraction": (HEADER + "a,e1,1.5,1\n" + EPISODES.split("\n", 2)[2], "error"),
    "initial_condition_superscript": (
        HEADER + "a,e1,\u00b2,1\n" + EPISODES.split("\n", 2)[2],
        "error",
    ),
    "initial_condition_5000_digits": (
        HEADER + f"a,e1,{'9' * 5000},1\n" + EPISODES.split("\n", 2)[2],
        "error",
    ),
    "seed_word": ("policy,env,initial_condition,success,seed\na,e1,0,1,x\n", "error"),
    "failure_kind_unknown": (
        "policy,env,initial_condition,success,failure_kind\na,e1,0,1,meteor\n",
        "error",
    ),
    "ragged": (HEADER + "a,e1,0\n", "error"),
    "non_utf8": (HEADER.encode() + b"caf\xe9,e1,0,1\n", "error"),
    "binary": (bytes(range(256)) * 4, "error"),
    "no_pairs": (EPISODES.replace("e1", "e9"), "error"),
    "duplicate_episode": (EPISODES + "a,e1,0,1\n", "error"),
    "nul_bytes": (HEADER + "a\x00,e1,0,1\n", "error"),
    "bom_crlf": ("\ufeff" + EPISODES.replace("\n", "\r\n"), "ok"),
}
for _name, (_sim, _expect) in ESTIMATE_CSV.items():
    case(f"estimate/sim_{_name}", expect=_expect)(_estimate(_sim))

ESTIMATE_ARGS: dict[str, list[str]] = {
    "confidence_1": ["--confidence", "1"],
    "confidence_nan": ["--confidence", "nan"],
    "output_is_a_file": ["-o", "sim.csv"],
    "run_with_csv": ["--run", "r1"],
}
for _name, _args in ESTIMATE_ARGS.items():
    case(f"estimate/{_name}")(_estimate(EPISODES, REAL, *_args))


@case("estimate/sim_missing")
def _(folder: Path) -> list[str]:
    (folder / "real.csv").write_text(REAL)
    return [*CLI, "estimate", "--sim", "nowhere.csv", "--real", "real.csv"]


@case("estimate/sim_is_a_folder")
def _(folder: Path) -> list[str]:
    (folder / "sim.csv").mkdir()
    (folder / "real.csv").write_text(REAL)
    return [*CLI, "estimate", "--sim", "sim.csv", "--real", "real.csv"]


@case("estimate/real_store_damaged")
def _(folder: Path) -> list[str]:
    store = _store(folder / "real" / "results.sqlite")
    store.write_bytes(store.read_bytes()[:200])
    (folder / "sim.csv").write_text(EPISODES)
    return [*CLI, "estimate", "--sim", "sim.csv", "--real", str(store)]


# --- correlate: numbers Python cannot parse -------------------------------------------------

COUNTS = "policy,env,successes,trials\n"
MORE_REAL_CSV: dict[str, str] = {
    "successes_superscript": COUNTS + "a,e1,\u00b2,4\nb,e1,2,4\nc,e1,4,4\n",
    "trials_5000_digits": COUNTS + f"a,e1,1,{'9' * 5000}\nb,e1,2,4\nc,e1,4,4\n",
    "trials_zero": COUNTS + "a,e1,0,0\nb,e1,2,4\nc,e1,4,4\n",
    "rate_1e400": "policy,env,success_rate\na,e1,1e400\nb,e1,0.5\nc,e1,0.9\n",
    "rate_hex": "policy,env,success_rate\na,e1,0x1p-2\nb,e1,0.5\nc,e1,0.9\n",
    "rate_empty": "policy,env,success_rate\na,e1,\nb,e1,0.5\nc,e1,0.9\n",
    "policy_empty": "policy,env,success_rate\n,e1,0.2\nb,e1,0.5\nc,e1,0.9\n",
    "column_repeated": "policy,env,success_rate,policy\na,e1,0.2,a\n",
    "no_rate_column": "policy,env\na,e1\n",
}
for _name, _text in MORE_REAL_CSV.items():

    def _csv(folder: Path, text: str = _text) -> list[str]:
        (folder / "real.csv").write_text(text)
        return _correlate(folder, _store(folder / "run" / "results.sqlite"), folder / "real.csv")

    case(f"correlate/real_{_name}")(_csv)

case("correlate/real_bom_crlf", expect="ok")(
    lambda folder: _correlate(
        folder,
        _store(folder / "run" / "results.sqlite"),
        _write(folder / "real.csv", "\ufeffpolicy,env,success_rate\r\na,e1,0.2\r\nb,e1,0.5\r\nc,e1,0.9\r\n"),
    )
)  # fmt: skip


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- eval and the job queue ---------------------------------------------------------------

MORE_EVAL: dict[str, tuple[list[str], dict[str, str], str]] = {
    "env_is_a_file": ([], {"env": "notes.txt"}, "error"),
    "store_url_unreachable": (["--store", "postgresql://nobody@127.0.0.1:1/x"], {}, "error"),
    "store_is_a_text_file": (["--store", "notes.txt"], {}, "error"),
    "image_size_1x1": (["--image-size", "1x1"], {}, "ok"),
    "policy_bundle_is_a_file": ([], {"policy": "bundle:notes.txt"}, "error"),
    "policy_openpi_unreachable": ([], {"policy": "openpi://127.0.0.1:1"}, "error"),
}
for _name, (_args, _spec, _expect) in MORE_EVAL.items():

    def _more_eval(folder: Path, args: list[str] = _args, spec: dict = _spec) -> list[str]:
        (folder / "notes.txt").write_text("not a store, not a package")
        return [*_eval(folder, "-o", "run", **spec), *args]

    case(f"eval/{_name}", expect=_expect)(_more_eval)

QUEUE: dict[str, list[str]] = {
    "submit_episodes_0": ["submit", "-p", "scripted:good", "-e", ENV_ID, "-n", "0"],
    "submit_env_unknown": ["submit", "-p", "scripted:good", "-e", "no_such_env"],
    "submit_policy_unknown": ["submit", "-p", "scriptd:good", "-e", ENV_ID],
    "submit_store_is_a_folder": ["submit", "-p", "scripted:good", "-e", ENV_ID, "--store", "."],
    "worker_workers_negative": ["worker", "--once", "--workers", "-3"],
    "serve_port_taken_or_bad": ["serve", "bundle:nowhere", "--port", "70000"],
    "serve_bundle_missing": ["serve", "bundle:nowhere"],
    "dashboard_port_bad": ["dashboard", "--port", "-1"],
    "help_unknown_topic": ["env", "validate", "--hepl"],
}
for _name, _args in QUEUE.items():
    case(f"cli/{_name}")(lambda folder, args=_args: [*CLI, *args])


# --- reconstruct: photos and videos at the edges -------------------------------------------


def _scan_of(make: Callable[[Path], None], *extra: str) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        scan = folder / "scan"
        scan.mkdir()
        make(scan)
        return _reconstruct(scan, folder / "env", "--scale", "1", *extra)

    return build


def _images(size: tuple[int, int], mode: str = "RGB", count: int = 6, ext: str = "jpg") -> Callable[[Path], None]:  # fmt: skip
    def make(scan: Path) -> None:
        from PIL import Image

        for index in range(count):
            Image.new(mode, size, index * 10).save(scan / f"{index}.{ext}")

    return make


def _gigapixel(scan: Path) -> None:
    """Small files whose headers claim 40,000 x 40,000 pixels (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 40_000, 40_000, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")  # fmt: skip
    for index in range(6):
        (scan / f"{index}.png").write_bytes(png)


def _truncated(scan: Path) -> None:
    _images((320, 240))(scan)
    data = (scan / "0.jpg").read_bytes()
    (scan / "0.jpg").write_bytes(data[: len(data) // 3])


def _mixed_sizes(scan: Path) -> None:
    from PIL import Image

    for index in range(6):
        Image.new("RGB", (320 + 40 * index, 240), index * 10).save(scan / f"{index}.jpg")


def _loop(scan: Path) -> None:
    _images((320, 240))(scan)
    (scan / "loop").symlink_to(scan)


def _subfolder_only(scan: Path) -> None:
    (scan / "inner").mkdir()
    _images((320, 240))(scan / "inner")


# (scan, expected) through the frames stage: photos any phone or editor writes are read
RECONSTRUCT_SCANS: dict[str, tuple[Callable[[Path], None], str]] = {
    "photos_grey": (_images((320, 240), "L"), "ok"),
    "photos_16bit_png": (_images((320, 240), "I;16", ext="png"), "ok"),
    "photos_rgba_png": (_images((320, 240), "RGBA", ext="png"), "ok"),
    "photos_mixed_sizes": (_mixed_sizes, "ok"),
    "symlink_loop": (_loop, "ok"),
    "photos_four": (_images((320, 240), count=4), "error"),
    "photos_gigapixel_header": (_gigapixel, "error"),
    "photos_1x1": (_images((1, 1)), "error"),  # pycolmap's SIFT crashed on them
    "photo_truncated": (_truncated, "error"),
    "photos_in_subfolder_only": (_subfolder_only, "error"),
}
for _name, (_make, _expect) in RECONSTRUCT_SCANS.items():
    case(f"reconstruct/scan_{_name}", expect=_expect)(_scan_of(_make, "--until", "frames"))


@case("reconstruct/objects_yaml_wrong_shape")
def _(folder: Path) -> list[str]:
    (folder / "objects.yaml").write_text("objects: 7\n")
    return _reconstruct(_photos(folder), folder / "env", "--scale", "1", "--objects", "objects.yaml")  # fmt: skip


@case("reconstruct/objects_yaml_missing")
def _(folder: Path) -> list[str]:
    return _reconstruct(_photos(folder), folder / "env", "--scale", "1", "--objects", "none.yaml")  # fmt: skip


@case("reconstruct/scan_video_one_frame")
def _(folder: Path) -> list[str]:
    import imageio_ffmpeg

    path = folder / "scan.mp4"
    writer = imageio_ffmpeg.write_frames(str(path), (320, 240), fps=30)
    writer.send(None)
    writer.send(np.zeros((240, 320, 3), np.uint8).tobytes())
    writer.close()
    return _reconstruct(path, folder / "env", "--scale", "1", "--until", "frames")
