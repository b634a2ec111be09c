"""The rows of the hostile-input table: each builds its bad input and names the command.

A case's ``build(folder)`` writes what it needs under ``folder`` (the command's working
directory) and returns the arguments after ``python``: ``-m twinbench_cli ...`` for a command,
or ``-c CALL ...`` for an entry point with no command of its own (the dashboard's upload
check, the policy loaders, the policy server's request handling).
"""

from __future__ import annotations

import atexit
import copy
import io
import math
import shutil
import socket
import sqlite3
import tempfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from evaluate.bundle import save_bundle
from evaluate.store import EpisodeKey, EpisodeOutcome, EpisodeRecord, ResultsStore

ENV_ID = "primitive_cube_bowl"
SOURCE_ENV = Path(__file__).resolve().parents[1] / "sim_env" / "envs" / ENV_ID
CLI = ["-m", "twinbench_cli"]


@dataclass(frozen=True)
class Case:
    """One hostile input: ``expect`` is ``error`` (a clear refusal is right) or ``ok``.

    ``isolate``: the input may hang, grow memory without bound or kill the interpreter if a
    defence regresses, so the test suite runs it in its own process too (the others it runs
    in-process, see ``benchmarks.hostile.run_in_process``).
    """

    name: str
    build: Callable[[Path], list[str]]
    expect: str = "error"
    isolate: bool = False


def registrar(cases: list[Case]) -> Callable[..., Callable]:
    """``@case(name, expect=..., isolate=...)`` over a build function appends it to ``cases``."""

    def case(name: str, expect: str = "error", isolate: bool = False) -> Callable:
        def register(build: Callable[[Path], list[str]]) -> Callable[[Path], list[str]]:
            cases.append(Case(name, build, expect, isolate))
            return build

        return register

    return case


CASES: list[Case] = []
case = registrar(CASES)


# --- entry points without a command, run as `python -c CALL ARGS` -------------------------

_ONE_LINE = """
import sys
from twinbench.errors import TwinbenchError
try:
    main()
except TwinbenchError as exc:
    print(f"twinbench: error: {exc}", file=sys.stderr)
    sys.exit(2)
"""

LOAD_POLICY = (
    """
import sys
import numpy as np
def main():
    from evaluate.policies import make_policy
    from evaluate.policy import Observation
    if len(sys.argv) > 2:  # sandboxed, with this wall-clock limit per call [s]
        from evaluate.sandbox import SandboxConfig, SandboxedPolicy
        limits = SandboxConfig(call_timeout_s=float(sys.argv[2]))
        policy = SandboxedPolicy(sys.argv[1].removeprefix("sandboxed:"), limits)
    else:
        policy = make_policy(sys.argv[1])
    policy.reset()
    images = {k: np.zeros((48, 64, 3), np.uint8) for k in policy.metadata.image_keys}
    chunk = policy.infer(Observation(np.zeros(7), np.zeros(1), images), "hostile")
    policy.close()
    print("loaded and answered", chunk.actions.shape)
"""
    + _ONE_LINE
)

UPLOAD = (
    """
import sys
from pathlib import Path
def main():
    from dashboard.submission import bundle_spec
    with open(sys.argv[1], "rb") as data:
        print(bundle_spec(Path(sys.argv[1]).name, data, Path("submissions")))
"""
    + _ONE_LINE
)

SERVE_REQUEST = (
    """
import sys
import msgpack, numpy as np
def main():
    import websockets.sync.client as client
    from websockets.exceptions import ConnectionClosed
    from evaluate import wire
    from evaluate.bundle import load_bundle
    from evaluate.serving import BackgroundServer, ServerConfig
    from twinbench.errors import TwinbenchError
    frame = eval(sys.argv[2], {"np": np, "msgpack": msgpack, "wire": wire})
    config = ServerConfig(port=0, max_frame_bytes=8 * 2**20)
    with BackgroundServer(load_bundle(sys.argv[1]), config) as server:
        with client.connect(f"ws://127.0.0.1:{server.port}", max_size=None) as ws:
            ws.recv(timeout=30)
            try:
                ws.send(frame)
                reply = ws.recv(timeout=30)
            except ConnectionClosed as exc:
                raise TwinbenchError(f"server closed the connection: {exc}")
    if isinstance(reply, str):
        if "Traceback" in reply:
            print(reply, file=sys.stderr)
            sys.exit(1)
        raise TwinbenchError(f"server said: {reply}")
    print("served", sorted(wire.unpackb(reply)))
"""
    + _ONE_LINE
)


# --- environment packages: `twinbench env validate` --------------------------------------


def _package(folder: Path) -> Path:
    return package_copy(folder / "pkg")


def package_copy(target: Path) -> Path:
    """A copy of the bundled package at ``target``, for a case to damage."""
    shutil.copytree(SOURCE_ENV, target)
    return target


def _edit_env(change: Callable[[dict], Any]) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        package = _package(folder)
        raw = yaml.safe_load((package / "env.yaml").read_text())
        change(raw)
        (package / "env.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
        return [*CLI, "env", "validate", str(package)]

    return build


def _env_text(data: bytes) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        package = _package(folder)
        (package / "env.yaml").write_bytes(data)
        return [*CLI, "env", "validate", str(package)]

    return build


def _env_files(change: Callable[[Path], Any]) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        package = _package(folder)
        change(package)
        return [*CLI, "env", "validate", str(package)]

    return build


def _set(path: str, value: Any) -> Callable[[dict], None]:
    """``objects.0.mass`` -> raw["objects"][0]["mass"] = value."""

    def change(raw: dict) -> None:
        *parents, last = path.split(".")
        node: Any = raw
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


INF, NAN = math.inf, math.nan
ENV_EDITS: dict[str, tuple[str, Any]] = {
    "mass_inf": ("objects.0.mass", INF),
    "mass_zero": ("objects.0.mass", 0.0),
    "mass_negative": ("objects.0.mass", -1.0),
    "friction_nan": ("objects.0.friction.0", NAN),
    "friction_inf": ("objects.0.friction.0", INF),
    "friction_1e300": ("objects.0.friction.0", 1e300),
    "friction_negative": ("objects.0.friction.0", -1.0),
    "friction_string": ("objects.0.friction", "slippery"),
    "arm_qpos_nan": ("initial_conditions.0.arm_qpos", [NAN] * 7),
    "arm_qpos_short": ("initial_conditions.0.arm_qpos", [0.0] * 3),
    "gripper_2": ("initial_conditions.0.gripper", 2.0),
    "object_pos_1e30": ("initial_conditions.0.objects.cube.pos", [1e30, 0.0, 0.0]),
    "quat_zero": ("initial_conditions.0.objects.cube.quat", [0.0, 0.0, 0.0, 0.0]),
    "unknown_ic_object": ("initial_conditions.0.objects.ghost", {"pos": [0, 0, 0]}),
    "camera_cx_nan": ("cameras.0.cx", NAN),
    "camera_width_0": ("cameras.0.width", 0),
    "camera_width_huge": ("cameras.0.width", 100000),
    "camera_fx_negative": ("cameras.0.fx", -5.0),
    "camera_parent_unknown": ("cameras.0.parent", "elbow"),
    "threshold_nan": ("rubric.criteria.0.params.threshold", NAN),
    "threshold_negative": ("rubric.criteria.0.params.threshold", -0.02),
    "fraction_inf": ("rubric.criteria.2.params.fraction", INF),
    "rubric_unknown_kind": ("rubric.criteria.0.kind", "teleport"),
    "rubric_unknown_object": ("rubric.criteria.0.params.object", "ghost"),
    "requires_itself": ("rubric.criteria.0.requires", ["reach_cube"]),
    "format_version_true": ("format_version", True),
    "format_version_99": ("format_version", 99),
    "unknown_field": ("colour", "red"),
    "name_empty": ("name", ""),
    "instruction_number": ("instruction", 42),
    "mesh_dotdot": ("scene.visual.mesh", "../../../etc/passwd"),
    "mesh_absolute": ("scene.visual.mesh", "/etc/passwd"),
    "hulls_empty": ("objects.0.collision_hulls", []),
    "rgba_out_of_range": ("objects.0.visual.rgba", [2, 0, 0, 1]),
    "initial_conditions_empty": ("initial_conditions", []),
    "base_pos_nan": ("robot.base_pose.pos", [NAN, 0.0, 0.0]),
}
for _name, (_path, _value) in ENV_EDITS.items():
    case(f"env/{_name}")(_edit_env(_set(_path, _value)))

case("env/duplicate_object")(
    _edit_env(lambda raw: raw["objects"].append(copy.deepcopy(raw["objects"][0])))
)
ENV_TEXTS: dict[str, bytes] = {
    "top_level_list": b"- 1\n- 2\n",
    "empty_yaml": b"",
    "non_utf8": b"name: caf\xe9\nformat_version: 1\n",
    "not_yaml": b"name: [unclosed\n",
    "alias_bomb": (
        b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    ),
    "deep_nesting": b"x: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
    "huge_file": b"# " + b"x" * (64 * 2**20) + b"\n",
}
ISOLATED_TEXTS = {"alias_bomb", "deep_nesting"}  # a parser that blows up must not take the run
for _name, _data in ENV_TEXTS.items():
    case(f"env/{_name}", isolate=_name in ISOLATED_TEXTS)(_env_text(_data))


def _link_out(package: Path) -> None:
    (package / "meshes" / "cube.obj").unlink()
    (package / "meshes" / "cube.obj").symlink_to("/etc/hostname")


def _yaml_dir(package: Path) -> None:
    (package / "env.yaml").unlink()
    (package / "env.yaml").mkdir()


ENV_FILE_DAMAGE: dict[str, Callable[[Path], Any]] = {
    "mesh_missing": lambda p: (p / "meshes" / "cube.obj").unlink(),
    "mesh_empty": lambda p: (p / "meshes" / "cube.obj").write_bytes(b""),
    "mesh_garbage": lambda p: (p / "meshes" / "cube.obj").write_bytes(np.random.bytes(4096)),
    "hull_garbage": lambda p: (p / "hulls" / "cube_0.obj").write_text("v nan nan nan\nf 1 1 1\n"),
    "mesh_symlink_out": _link_out,
    "no_env_yaml": lambda p: (p / "env.yaml").unlink(),
    "env_yaml_is_a_folder": _yaml_dir,
}
for _name, _damage in ENV_FILE_DAMAGE.items():
    case(f"env/{_name}")(_env_files(_damage))


@case("env/path_is_a_file")
def _(folder: Path) -> list[str]:
    (folder / "env.txt").write_text("not a package")
    return [*CLI, "env", "validate", str(folder / "env.txt")]


@case("env/missing_path")
def _(folder: Path) -> list[str]:
    return [*CLI, "env", "validate", str(folder / "nowhere")]


# --- `twinbench env render` ---------------------------------------------------------------

RENDERS: dict[str, list[str]] = {
    "size_0x0": ["--size", "0x0", "-o", "x.png"],
    "size_negative": ["--size", "-5x10", "-o", "x.png"],
    "size_huge": ["--size", "20000x20000", "-o", "x.png"],
    "size_words": ["--size", "big", "-o", "x.png"],
    "output_is_a_folder": ["-o", "."],
    "output_unknown_extension": ["-o", "x.xyz"],
    "output_in_missing_folder": ["-o", "no/such/dir/x.png"],
    "initial_condition_99": ["-i", "99", "-o", "x.png"],
    "initial_condition_negative": ["-i", "-1", "-o", "x.png"],
    "renderer_unknown": ["--renderer", "raytrace", "-o", "x.png"],
    "env_unknown": [],
}
RENDERS_OK = {"output_in_missing_folder"}  # the folder is made, as for every output
for _name, _args in RENDERS.items():
    _env = "no_such_env" if _name == "env_unknown" else ENV_ID
    _argv = [*CLI, "env", "render", _env, *(_args or ["-o", "x.png"])]
    _expect = "ok" if _name in RENDERS_OK else "error"
    case(f"render/{_name}", expect=_expect)(lambda folder, argv=_argv: argv)


# --- policy bundles: loaded in-process (bundle:) and sandboxed (sandboxed:) ---------------

GOOD_MODULE = """
import numpy as np
from evaluate.policy import ActionChunk, Policy

class Good(Policy):
    def __init__(self, config, weights):
        self.config = config
    @property
    def metadata(self):
        return self.config.metadata()
    def reset(self):
        pass
    def infer(self, obs, instruction):
        state = np.concatenate([obs.joint_position, obs.gripper_position])
        return ActionChunk(np.tile(state, (4, 1)), self.config.action_space)
"""

BUNDLE_CONFIG = {
    "action_space": "joint_position",
    "image_keys": ["exterior_image_1_left"],
    "image_size": [48, 64],
    "chunk_length": 4,
    "open_loop_horizon": 2,
}


def _bundle(folder: Path, module: str = GOOD_MODULE, **config: Any) -> Path:
    (folder / "src").mkdir(exist_ok=True)
    (folder / "src" / "good_policy.py").write_text(module)
    return save_bundle(
        folder / "bundle",
        "good_policy:Good",
        {**BUNDLE_CONFIG, **config},
        {"w": np.zeros(2, np.float32)},
        sources=[folder / "src" / "good_policy.py"],
    )


def _edit_bundle(
    change: Callable[[dict, Path], Any], scheme: str = "bundle", module: str = GOOD_MODULE
) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        bundle = _bundle(folder, module)
        raw = yaml.safe_load((bundle / "policy.yaml").read_text())
        change(raw, bundle)
        (bundle / "policy.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
        return ["-c", LOAD_POLICY, f"{scheme}:{bundle}"]

    return build


def _field(name: str, value: Any) -> Callable[[dict, Path], None]:
    return lambda raw, bundle: raw.__setitem__(name, value)


BUNDLE_EDITS: dict[str, Callable[[dict, Path], Any]] = {
    "entry_point_path": _field("entry_point", "/tmp/evil/evilmod:Evil"),
    "entry_point_dotdot": _field("entry_point", "../evilmod:Evil"),
    "entry_point_no_class": _field("entry_point", "good_policy"),
    "entry_point_missing_class": _field("entry_point", "good_policy:Missing"),
    "entry_point_not_a_policy": _field("entry_point", "numpy:ndarray"),
    "entry_point_missing_module": _field("entry_point", "no_such_module:X"),
    "image_size_huge": _field("image_size", [60000, 60000]),
    "image_size_zero": _field("image_size", [0, 64]),
    "chunk_length_huge": _field("chunk_length", 10**12),
    "horizon_over_chunk": _field("open_loop_horizon", 9),
    "action_space_unknown": _field("action_space", "cartesian"),
    "unknown_field": _field("chunk_lenght", 4),
    "format_version_2": _field("format_version", 2),
    "gripper_threshold_nan": _field("gripper_threshold", NAN),
    "normalization_nan": _field("normalization", {"state": {"mean": [NAN] * 8, "std": [1] * 8}}),
    "normalization_not_a_map": _field("normalization", [1, 2]),
    "image_keys_numbers": _field("image_keys", [1, 2]),
    "framework_unknown": _field("framework", "jax"),
    "pickle_weights": lambda raw, bundle: (bundle / "model.pt").write_bytes(b"\x80\x04K\x01."),
    "corrupt_safetensors": lambda raw, bundle: (bundle / "model.safetensors").write_bytes(
        b"\xff" * 64
    ),
    "module_syntax_error": lambda raw, bundle: (bundle / "good_policy.py").write_text("def (:\n"),
    "module_import_error": lambda raw, bundle: (bundle / "good_policy.py").write_text(
        "import no_such_dependency_xyz\n"
    ),
    "module_links_out": lambda raw, bundle: _replace_with_link(bundle / "good_policy.py"),
}


def _replace_with_link(path: Path) -> None:
    outside = path.parent.parent / "outside.py"
    outside.write_text(path.read_text())
    path.unlink()
    path.symlink_to(outside)


for _name, _change in BUNDLE_EDITS.items():
    case(f"bundle/{_name}")(_edit_bundle(_change))


def _bundle_text(data: bytes) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        bundle = _bundle(folder)
        (bundle / "policy.yaml").write_bytes(data)
        return ["-c", LOAD_POLICY, f"bundle:{bundle}"]

    return build


case("bundle/policy_yaml_non_utf8")(_bundle_text(b"entry_point: caf\xe9:X\n"))
case("bundle/policy_yaml_alias_bomb")(_bundle_text(b"a: &a [1, 1]\nb: [*a, *a]\n"))
case("bundle/policy_yaml_empty")(_bundle_text(b""))


@case("bundle/no_policy_yaml")
def _(folder: Path) -> list[str]:
    (folder / "empty").mkdir()
    return ["-c", LOAD_POLICY, f"bundle:{folder / 'empty'}"]


@case("bundle/module_only_in_cwd")
def _(folder: Path) -> list[str]:
    (folder / "evilmod.py").write_text(GOOD_MODULE.replace("class Good", "class Evil"))
    return _edit_bundle(_field("entry_point", "evilmod:Evil"))(folder)


def _module(body: str, where: str = "infer") -> str:
    """GOOD_MODULE with ``body`` run first in ``infer`` (or ``__init__``)."""
    anchor = "    def infer(self, obs, instruction):\n" if where == "infer" else (
        "    def __init__(self, config, weights):\n"
    )  # fmt: skip
    indented = "".join(f"        {line}\n" for line in body.strip().splitlines())
    head = "import os, socket, time\n"
    return head + GOOD_MODULE.replace(anchor, anchor + indented)


RUNTIME: dict[str, tuple[str, str]] = {
    "infer_raises": ("raise RuntimeError('boom')", "infer"),
    "infer_returns_nan": ("return ActionChunk(np.full((4, 8), np.nan), 'joint_position')", "infer"),
    "infer_returns_list": ("return [[0.0] * 8]", "infer"),
    "infer_wrong_space": ("return ActionChunk(np.zeros((4, 8)), 'joint_velocity')", "infer"),
    "init_raises": ("raise ValueError('bad weights')", "init"),
}
for _name, (_body, _where) in RUNTIME.items():
    case(f"bundle/{_name}")(_edit_bundle(lambda raw, bundle: None, module=_module(_body, _where)))

ATTACKS: dict[str, tuple[str, str]] = {
    "network": ("socket.create_connection(('1.1.1.1', 53), timeout=5)", "infer"),
    "network_loopback": ("socket.create_connection(('127.0.0.1', 22), timeout=5)", "infer"),
    "memory_10gb": ("np.ones(10 * 2**30, np.uint8)", "infer"),
    "spin": ("while True: pass", "infer"),
    "write_home": (f"open({str(Path.home() / '.twinbench-hostile')!r}, 'w').write('x')", "infer"),
    "read_secrets": ("open('/etc/shadow').read()", "infer"),
    "exit": ("os._exit(3)", "infer"),
    "network_while_loading": ("socket.create_connection(('1.1.1.1', 53), timeout=5)", "init"),
    "read_evaluator_cmdline": ("open(f'/proc/{os.getppid()}/cmdline').read()", "infer"),
    "read_twinbench_sources": (
        f"open({str(Path(__file__).resolve())!r}).read()",  # a package a bundle never imports
        "infer",
    ),
    "socketpair": ("socket.socketpair()", "infer"),
    "vsock": ("socket.socket(40, socket.SOCK_STREAM).connect((2, 1024))", "infer"),
}
SPIN_LIMIT_S = "5"  # the wall-clock limit per call the spinning case runs under [s]
for _name, (_body, _where) in ATTACKS.items():
    _build = _edit_bundle(lambda raw, bundle: None, "sandboxed", module=_module(_body, _where))
    if _name == "spin":
        _build = lambda folder, build=_build: [*build(folder), SPIN_LIMIT_S]  # noqa: E731
    case(f"sandbox/{_name}")(_build)
_LISTENERS: list[socket.socket] = []  # host sockets the unix_socket case aims at, kept open


@case("sandbox/unix_socket")
def _(folder: Path) -> list[str]:
    """A pathname Unix socket listening on the host (a database's, Docker's)."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "host.sock"))
    server.listen()
    _LISTENERS.append(server)
    body = f"socket.socket(socket.AF_UNIX).connect({str(folder / 'host.sock')!r})"
    return _edit_bundle(lambda raw, bundle: None, "sandboxed", module=_module(body))(folder)


case("sandbox/well_behaved", expect="ok")(_edit_bundle(lambda raw, bundle: None, "sandboxed"))


# --- the dashboard's bundle upload ----------------------------------------------------------


def _zip(members: dict[str | zipfile.ZipInfo, bytes]) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        path = folder / "upload.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
        return ["-c", UPLOAD, str(path)]

    return build


def _symlink_member(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (0o120777) << 16
    return info


POLICY_YAML = yaml.safe_dump({"entry_point": "good_policy:Good", **BUNDLE_CONFIG}).encode()
case("upload/good", expect="ok")(_zip({"policy.yaml": POLICY_YAML, "good_policy.py": b"X = 1\n"}))
case("upload/zip_slip")(_zip({"../escape.txt": b"x", "policy.yaml": POLICY_YAML}))
case("upload/absolute_member")(_zip({"/etc/evil": b"x", "policy.yaml": POLICY_YAML}))
case("upload/symlink_member")(
    _zip({_symlink_member("link", "/etc/passwd"): b"/etc/passwd", "policy.yaml": POLICY_YAML})
)
case("upload/pickle")(_zip({"policy.yaml": POLICY_YAML, "w.pt": b"\x80\x04K\x01."}))
case("upload/no_policy_yaml")(_zip({"readme.txt": b"hi"}))
case("upload/two_folders")(_zip({"a/policy.yaml": POLICY_YAML, "b/policy.yaml": POLICY_YAML}))
case("upload/bad_yaml")(_zip({"policy.yaml": b"entry_point: [unclosed"}))
case("upload/entry_point_path")(
    _zip({"policy.yaml": POLICY_YAML.replace(b"good_policy:Good", b"/tmp/x/evil:E")})
)
case("upload/too_many_files")(
    _zip({"policy.yaml": POLICY_YAML, **{f"f{i}.txt": b"" for i in range(2100)}})
)


@case("upload/not_a_zip")
def _(folder: Path) -> list[str]:
    (folder / "upload.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    return ["-c", UPLOAD, str(folder / "upload.zip")]


@case("upload/empty_file")
def _(folder: Path) -> list[str]:
    (folder / "upload.zip").write_bytes(b"")
    return ["-c", UPLOAD, str(folder / "upload.zip")]


@case("upload/zip_bomb")  # refused by its declared size, before a byte is unpacked
def _(folder: Path) -> list[str]:
    path = folder / "upload.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("policy.yaml", POLICY_YAML)
        with archive.open("zeros.bin", "w", force_zip64=True) as member:
            block = b"\0" * 2**20
            for _ in range(2100):  # 2.1 GB unpacked, a few MB packed
                member.write(block)
    return ["-c", UPLOAD, str(path)]


# --- the policy server: one bad request frame each ----------------------------------------

STATE = (
    "'observation/joint_position': np.zeros(7, np.float32), "
    "'observation/gripper_position': np.zeros(1, np.float32)"
)
IMAGE = "'observation/exterior_image_1_left': np.zeros((48, 64, 3), np.uint8)"
FRAMES: dict[str, tuple[str, str]] = {
    "good": (f"wire.packb({{{STATE}, {IMAGE}, 'prompt': 'x'}})", "ok"),
    "text_frame": ("'hello'", "error"),
    "not_msgpack": ("b'\\xc1\\xc1\\xc1'", "error"),
    "a_list": ("wire.packb([1, 2, 3])", "error"),
    "an_int": ("wire.packb(7)", "error"),
    "empty_map": ("wire.packb({})", "error"),
    "state_missing": (f"wire.packb({{{IMAGE}}})", "error"),
    "state_wrong_shape": (
        f"wire.packb({{'observation/joint_position': np.zeros(3, np.float32), "
        f"'observation/gripper_position': np.zeros(1, np.float32), {IMAGE}}})",
        "error",
    ),
    "state_int_dtype": (
        f"wire.packb({{'observation/joint_position': np.zeros(7, np.int64), "
        f"'observation/gripper_position': np.zeros(1, np.float32), {IMAGE}}})",
        "error",
    ),
    "state_nan": (
        f"wire.packb({{'observation/joint_position': np.full(7, np.nan), "
        f"'observation/gripper_position': np.zeros(1), {IMAGE}}})",
        "error",
    ),
    "image_float": (
        f"wire.packb({{{STATE}, 'observation/exterior_image_1_left': np.zeros((48, 64, 3))}})",
        "error",
    ),
    "image_missing": (f"wire.packb({{{STATE}}})", "error"),
    "image_zero_size": (
        f"wire.packb({{{STATE}, 'observation/exterior_image_1_left': "
        "np.zeros((0, 0, 3), np.uint8)})",
        "error",
    ),
    "array_bad_shape": (
        "msgpack.packb({'observation/joint_position': {b'__ndarray__': True, b'data': b'x', "
        "b'dtype': '<f4', b'shape': [7]}})",
        "error",
    ),
    "array_object_dtype": (
        "msgpack.packb({'x': {b'__ndarray__': True, b'data': b'', b'dtype': '|O', b'shape': [0]}})",
        "error",
    ),
    "oversize_frame": ("b'\\x00' * (16 * 2**20)", "error"),
}
for _name, (_frame, _expect) in FRAMES.items():

    def _build(folder: Path, frame: str = _frame) -> list[str]:
        return ["-c", SERVE_REQUEST, str(_bundle(folder)), frame]

    case(f"server/{_name}", expect=_expect)(_build)


# --- stores, eval and correlate -----------------------------------------------------------

POLICIES = ("a", "b", "c")


def _store(path: Path, policies: Sequence[str] = POLICIES, env: str = "e1") -> Path:
    """A valid store: one run, 4 episodes per policy, policy k winning k + 1 of them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with ResultsStore.open(path) as store:
        run = store.add_run({"purpose": "hostile"}).run_id
        for index, policy in enumerate(policies):
            for seed in range(4):
                won = seed < index + 1
                outcome = EpisodeOutcome(won, 1.0 if won else 0.2, {}, 100, 1.0, 0.1, 0.1)
                store.record_episode(
                    EpisodeRecord(run, EpisodeKey(policy, env, "h", 0, seed), outcome)
                )
    return path


def _real(
    folder: Path, text: str = "policy,env,success_rate\na,e1,0.2\nb,e1,0.5\nc,e1,0.9\n"
) -> Path:
    path = folder / "real.csv"
    path.write_text(text)
    return path


def _damage(sql: str) -> Callable[[Path], None]:
    """Edit the store as a hand (or an older twinbench) might, past its CHECK constraints."""

    def damage(path: Path) -> None:
        with sqlite3.connect(path) as conn:
            conn.executescript(f"PRAGMA ignore_check_constraints = ON; {sql}")

    return damage


def _garbage(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[100:4096] = np.random.default_rng(0).bytes(3996)
    path.write_bytes(bytes(data))


STORE_DAMAGE: dict[str, Callable[[Path], None]] = {
    "garbage_pages": _garbage,
    "dropped_table": _damage("DROP TABLE episodes"),
    "bad_run_config_json": _damage("UPDATE runs SET config = '{not json'"),
    "success_7": _damage("UPDATE episodes SET success = 7"),
    "progress_abc": _damage("UPDATE episodes SET progress = 'abc'"),
    "criteria_bad_json": _damage("UPDATE episodes SET criteria = '[unclosed'"),
    "zero_bytes": lambda path: path.write_bytes(b""),
    "not_sqlite": lambda path: path.write_text("policy,env\n"),
}


_RUN_LOCK = threading.Lock()
_FINISHED_RUN: list[Path] = []


def _finished_run() -> Path:
    """One real ``eval`` run directory, made once per process (the cases that damage it copy
    it): what ``_eval(folder, "-o", RUN)`` runs, through the same calls, output discarded."""
    from rich.console import Console

    from evaluate.rollout import RolloutConfig
    from evaluate.run import EvalConfig, Execution
    from evaluate.run.console import run_with_progress

    with _RUN_LOCK:
        if not _FINISHED_RUN:
            folder = Path(tempfile.mkdtemp(prefix="twinbench-hostile-run-"))
            atexit.register(shutil.rmtree, folder, True)
            config = EvalConfig(
                envs=(ENV_ID,), policies=("scripted:good",), episodes=1, seed=0,
                image_size=None, rollout=RolloutConfig(max_steps=2),
            )  # fmt: skip
            console = Console(file=io.StringIO())
            run_with_progress(config, folder / "run", Execution(workers=0), console)
            _FINISHED_RUN.append(folder / "run")
        return _FINISHED_RUN[0]


def _correlate(folder: Path, sim: Path, real: Path, *extra: str) -> list[str]:
    return [*CLI, "correlate", "--sim", str(sim), "--real", str(real), "-o", str(folder / "report"), *extra]  # fmt: skip


def _eval(folder: Path, *extra: str, env: str = ENV_ID, policy: str = "scripted:good") -> list[str]:
    return [*CLI, "eval", "-e", env, "-p", policy, "-n", "1", "--max-steps", "2", "--workers", "0", *extra]  # fmt: skip


for _name, _harm in STORE_DAMAGE.items():

    def _sim(folder: Path, harm: Callable[[Path], None] = _harm) -> list[str]:
        sim = _store(folder / "run" / "results.sqlite")
        harm(sim)
        return _correlate(folder, sim, _real(folder))

    def _resume(folder: Path, harm: Callable[[Path], None] = _harm) -> list[str]:
        """A finished eval run, its store damaged, then resumed by the same command."""
        shutil.copytree(_finished_run(), folder / "run")
        harm(folder / "run" / "results.sqlite")
        return _eval(folder, "-o", str(folder / "run"))

    # correlate reads episodes only: a damaged run config it never reads is no error
    _ok = {"correlate": {"bad_run_config_json"}, "eval": {"zero_bytes"}}
    for _group, _build in (("correlate", _sim), ("eval", _resume)):
        _expect = "ok" if _name in _ok[_group] else "error"
        case(f"{_group}/store_{_name}", expect=_expect)(_build)


@case("correlate/store_is_a_folder")
def _(folder: Path) -> list[str]:
    (folder / "run" / "results.sqlite").mkdir(parents=True)
    return _correlate(folder, folder / "run", _real(folder))


@case("eval/store_is_a_folder")
def _(folder: Path) -> list[str]:
    (folder / "run" / "results.sqlite").mkdir(parents=True)
    return _eval(folder, "-o", str(folder / "run"))


REAL_CSV: dict[str, bytes] = {
    "ragged_rows": b"policy,env,success_rate\na,e1,0.2,9\nb,e1\nc,e1,0.9\n",
    "rate_and_counts_disagree": b"policy,env,success_rate,successes,trials\na,e1,0.9,1,4\nb,e1,0.5,2,4\nc,e1,0.9,4,4\n",
    "non_utf8": b"policy,env,success_rate\ncaf\xe9,e1,0.2\nb,e1,0.5\nc,e1,0.9\n",
    "empty": b"",
    "header_only": b"policy,env,success_rate\n",
    "rate_nan": b"policy,env,success_rate\na,e1,nan\nb,e1,0.5\nc,e1,0.9\n",
    "rate_over_1": b"policy,env,success_rate\na,e1,2\nb,e1,0.5\nc,e1,0.9\n",
    "rate_negative": b"policy,env,success_rate\na,e1,-0.5\nb,e1,0.5\nc,e1,0.9\n",
    "successes_over_trials": b"policy,env,successes,trials\na,e1,9,4\nb,e1,2,4\nc,e1,4,4\n",
    "no_common_cells": b"policy,env,success_rate\nx,e9,0.2\ny,e9,0.5\nz,e9,0.9\n",
    "duplicate_rows": b"policy,env,success_rate\na,e1,0.2\na,e1,0.3\nb,e1,0.5\n",
    "binary_garbage": bytes(range(256)) * 4,
    "one_policy": b"policy,env,success_rate\na,e1,0.2\n",
}
for _name, _data in REAL_CSV.items():

    def _csv(folder: Path, data: bytes = _data) -> list[str]:
        real = folder / "real.csv"
        real.write_bytes(data)
        return _correlate(folder, _store(folder / "run" / "results.sqlite"), real)

    case(f"correlate/real_{_name}")(_csv)


@case("correlate/sim_missing")
def _(folder: Path) -> list[str]:
    return _correlate(folder, folder / "nowhere.sqlite", _real(folder))


@case("correlate/real_missing")
def _(folder: Path) -> list[str]:
    return _correlate(folder, _store(folder / "run" / "results.sqlite"), folder / "nowhere.csv")


@case("correlate/output_is_a_file")
def _(folder: Path) -> list[str]:
    (folder / "report").write_text("precious")
    return _correlate(folder, _store(folder / "run" / "results.sqlite"), _real(folder))


@case("correlate/resamples_0")
def _(folder: Path) -> list[str]:
    return _correlate(folder, _store(folder / "run" / "results.sqlite"), _real(folder), "--resamples", "0")  # fmt: skip


@case("correlate/run_unknown")
def _(folder: Path) -> list[str]:
    return _correlate(folder, _store(folder / "run" / "results.sqlite"), _real(folder), "--run", "nope")  # fmt: skip


EVAL_ARGS: dict[str, list[str]] = {
    "episodes_0": ["-n", "0"],
    "image_size_0x0": ["--image-size", "0x0"],
    "image_size_negative": ["--image-size", "-4x4"],
    "image_size_huge": ["--image-size", "50000x50000"],
    "max_steps_0": ["--max-steps", "0"],
    "horizon_0": ["--horizon", "0"],
    "timeout_nan": ["--timeout", "nan"],
    "timeout_negative": ["--timeout", "-1"],
    "seed_negative": ["--seed", "-1"],
    "workers_negative": ["--workers", "-1"],
}
for _name, _args in EVAL_ARGS.items():
    case(f"eval/{_name}")(lambda folder, args=_args: [*_eval(folder, "-o", "run"), *args])

EVAL_SPECS: dict[str, dict[str, str]] = {
    "env_unknown": {"env": "no_such_env"},
    "env_empty": {"env": ""},
    "policy_scheme_unknown": {"policy": "scriptd:good"},
    "policy_scripted_unknown": {"policy": "scripted:perfect"},
    "policy_empty": {"policy": ""},
    "bundle_missing": {"policy": "bundle:/no/such/bundle"},
    "bundle_empty_path": {"policy": "bundle:"},
    "openpi_bad_port": {"policy": "openpi://host:99999"},
    "openpi_no_port": {"policy": "openpi://host"},
    "openpi_unknown_option": {"policy": "openpi://127.0.0.1:9?horizn=3"},
    "openpi_key_env_unset": {"policy": "openpi://127.0.0.1:9?api_key_env=NO_SUCH_VARIABLE_X"},
    "sandboxed_missing": {"policy": "sandboxed:/no/such/bundle"},
}
for _name, _spec in EVAL_SPECS.items():
    case(f"eval/{_name}")(lambda folder, spec=_spec: _eval(folder, "-o", "run", **spec))


@case("eval/output_is_a_file")
def _(folder: Path) -> list[str]:
    (folder / "run").write_text("precious")
    return _eval(folder, "-o", "run")


@case("eval/env_package_broken")
def _(folder: Path) -> list[str]:
    _edit_env(_set("objects.0.mass", INF))(folder)
    return _eval(folder, "-o", "run", env=str(folder / "pkg"))


@case("eval/out_named_like_an_env", expect="ok")
def _(folder: Path) -> list[str]:
    (folder / ENV_ID).mkdir()  # an empty folder named like the bundled env, in the cwd
    return _eval(folder, "-o", "run2")


# --- reconstruct ---------------------------------------------------------------------------


def _reconstruct(scan: Path, out: Path, *extra: str) -> list[str]:
    return [*CLI, "reconstruct", str(scan), "-o", str(out), "--no-progress", *extra]


@case("reconstruct/scan_missing")
def _(folder: Path) -> list[str]:
    return _reconstruct(folder / "nowhere", folder / "env")


@case("reconstruct/scan_empty_folder")
def _(folder: Path) -> list[str]:
    (folder / "scan").mkdir()
    return _reconstruct(folder / "scan", folder / "env", "--scale", "1")


@case("reconstruct/scan_zero_byte_video")
def _(folder: Path) -> list[str]:
    (folder / "scan.mp4").write_bytes(b"")
    return _reconstruct(folder / "scan.mp4", folder / "env", "--scale", "1")


@case("reconstruct/scan_garbage_video")
def _(folder: Path) -> list[str]:
    (folder / "scan.mp4").write_bytes(np.random.default_rng(0).bytes(50_000))
    return _reconstruct(folder / "scan.mp4", folder / "env", "--scale", "1")


@case("reconstruct/scan_garbage_photos")
def _(folder: Path) -> list[str]:
    (folder / "scan").mkdir()
    for index in range(6):
        (folder / "scan" / f"{index}.jpg").write_bytes(np.random.default_rng(index).bytes(5000))
    return _reconstruct(folder / "scan", folder / "env", "--scale", "1")


@case("reconstruct/scan_text_files")
def _(folder: Path) -> list[str]:
    (folder / "scan").mkdir()
    (folder / "scan" / "notes.txt").write_text("no images here")
    return _reconstruct(folder / "scan", folder / "env", "--scale", "1")


@case("reconstruct/scan_unknown_extension")
def _(folder: Path) -> list[str]:
    (folder / "scan.xyz").write_bytes(b"x" * 100)
    return _reconstruct(folder / "scan.xyz", folder / "env", "--scale", "1")


def _photos(folder: Path) -> Path:
    """Six decodable photos, so that checks after the input's are reached."""
    from PIL import Image

    scan = folder / "scan"
    scan.mkdir()
    rng = np.random.default_rng(0)
    for index in range(6):
        pixels = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(scan / f"{index}.jpg")
    return scan


@case("reconstruct/output_is_a_file")
def _(folder: Path) -> list[str]:
    (folder / "env").write_text("precious")
    return _reconstruct(_photos(folder), folder / "env", "--scale", "1")


RECONSTRUCT_ARGS: dict[str, list[str]] = {
    "until_unknown": ["--until", "bake", "--scale", "1"],
    "max_frames_0": ["--max-frames", "0", "--scale", "1"],
    "max_image_size_negative": ["--max-image-size", "-1", "--scale", "1"],
    "max_features_0": ["--max-features", "0", "--scale", "1"],
    "scale_negative": ["--scale", "-1"],
    "scale_nan": ["--scale", "nan"],
    "object_height_0": ["--object-height", "0"],
    "two_scales": ["--scale", "1", "--object-height", "0.2"],
    "marker_dict_unknown": ["--marker-size", "0.1", "--marker-dict", "DICT_NOPE"],
    "trainer_unknown": ["--trainer", "magic", "--scale", "1"],
    "exterior_camera_bad": ["--exterior-camera", "up-high", "--scale", "1"],
    "plane_threshold_negative": ["--plane-threshold", "-1", "--scale", "1"],
}
for _name, _args in RECONSTRUCT_ARGS.items():

    def _rec(folder: Path, args: list[str] = _args) -> list[str]:
        return _reconstruct(_photos(folder), folder / "env", *args)

    case(f"reconstruct/{_name}")(_rec)


@case("reconstruct/objects_yaml_non_utf8")
def _(folder: Path) -> list[str]:
    (folder / "objects.yaml").write_bytes(b"objects: caf\xe9\n")
    return _reconstruct(
        _photos(folder), folder / "env", "--scale", "1", "--objects", "objects.yaml"
    )


# --- the command line itself ---------------------------------------------------------------

CLI_ARGS: dict[str, list[str]] = {
    "unknown_command": ["evaluate"],
    "eval_without_options": ["eval"],
    "env_without_command": ["env", "nope"],
    "bench_unknown": ["bench", "nope"],
    "submit_secret_in_spec": ["submit", "-p", "openpi://h:1?api_key=SECRET", "-e", ENV_ID],
    "worker_store_is_a_file_of_text": ["worker", "--store", "notes.txt", "--once"],
    "worker_store_mistyped": ["worker", "--store", "nowhere/results.sqlite", "--once"],
}
for _name, _args in CLI_ARGS.items():

    def _cli(folder: Path, args: list[str] = _args) -> list[str]:
        (folder / "notes.txt").write_text("not a store")
        return [*CLI, *args]

    case(f"cli/{_name}")(_cli)
