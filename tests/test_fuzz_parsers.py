"""Bounded property-based fuzz of the parsers users and peers feed (issue 22): an env.yaml, a
policy.yaml, an outcomes CSV and a wire request either parse or fail with the package's own
one-line error, never another exception."""

from __future__ import annotations

import copy
import csv
import math
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluate import wire
from evaluate.bundle import parse_config
from evaluate.correlation import load_tables
from evaluate.correlation.inputs import CsvRows
from evaluate.errors import EvaluateError
from evaluate.policy import DROID_IMAGE_KEYS
from evaluate.serving import BadRequest, _decode
from sim_env.errors import EnvPackageError
from sim_env.package.loader import parse_spec
from sim_env.registry import BUNDLED_DIR
from sim_env.rubric import check_rubric

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SPEC = yaml.safe_load((BUNDLED_DIR / "primitive_cube_bowl" / "env.yaml").read_text())


def _scalars(largest_int: int) -> st.SearchStrategy:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-largest_int - 1, max_value=largest_int),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
    )


def _nested(leaves: st.SearchStrategy) -> st.SearchStrategy:
    """Lists and string-keyed maps of ``leaves``, a few levels deep."""
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=8), children, max_size=4),
        ),
        max_leaves=8,
    )


scalars = _scalars(10**20)
values = _nested(scalars)


def _paths(node, prefix=()):
    """Every (path, value) inside a nested dict/list document."""
    yield prefix, node
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, (*prefix, index))


def _replace(document, path, value):
    out = copy.deepcopy(document)
    if not path:
        return value
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


SPEC_PATHS = [path for path, _ in _paths(SPEC)]


@FUZZ
@given(st.sampled_from(SPEC_PATHS), values)
def test_env_yaml_parses_or_names_the_field(path, value):
    data = _replace(SPEC, path, value)
    try:
        spec = parse_spec(data, Path("env.yaml"))
        check_rubric(spec, "env.yaml")
    except EnvPackageError as exc:
        assert str(exc).startswith("env.yaml") and "\n" not in str(exc)
        return
    for _, leaf in _paths(spec.model_dump()):  # what parses holds no NaN or infinity
        assert not (isinstance(leaf, float) and not math.isfinite(leaf))


POLICY = {
    "format_version": 1,
    "entry_point": "policy:Policy",
    "action_space": "joint_position",
    "image_keys": ["exterior_image_1_left"],
    "image_size": [224, 224],
    "chunk_length": 8,
    "open_loop_horizon": 8,
    "normalization": {"state": {"mean": [0.0] * 8, "std": [1.0] * 8}},
}
POLICY_PATHS = [path for path, _ in _paths(POLICY)]


@FUZZ
@given(st.sampled_from(POLICY_PATHS), values)
def test_policy_yaml_parses_or_names_the_field(tmp_path_factory, path, value):
    directory = tmp_path_factory.getbasetemp() / "bundle"
    try:
        parse_config(_replace(POLICY, path, value), directory)
    except EvaluateError as exc:
        assert str(exc).startswith(str(directory / "policy.yaml")) and "\n" not in str(exc)


csv_cells = st.one_of(
    st.sampled_from(["", "nan", "inf", "-1", "0", "1", "0.5", "2", "7", "abc", "a,b", '"']),
    st.sampled_from(["9" * 5000, "1" * 16]),  # past int()'s 4,300 digits, past any count
    st.text(alphabet="0123456789.-eE", max_size=6),
    st.text(
        alphabet="0123456789\u00b2\u0663\u06f4\u07c0\uff11", max_size=3
    ),  # digits str.isdigit takes
)
csv_headers = st.lists(
    st.sampled_from(
        ["policy", "env", "success_rate", "successes", "trials", "success", "progress", "x"]
    ),
    min_size=1,
    max_size=5,
)


@FUZZ
@given(csv_headers, st.lists(st.lists(csv_cells, max_size=6), max_size=5))
def test_outcomes_csv_loads_or_names_the_line(tmp_path_factory, header, rows):
    path = tmp_path_factory.getbasetemp() / "real.csv"
    path.write_text("\n".join([",".join(header), *(",".join(r) for r in rows)]) + "\n")
    try:
        tables = load_tables(path)
    except EvaluateError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    for table in tables.values():  # what loads is rates in [0, 1]
        for cell in table.cells.values():
            assert 0.0 <= cell.rate <= 1.0
            assert cell.samples is None or np.all((cell.samples >= 0) & (cell.samples <= 1))


wire_scalars = _scalars(2**63 - 1)  # the integers msgpack encodes
wire_values = _nested(wire_scalars)
requests = st.one_of(
    st.binary(max_size=64),
    wire_values.map(wire.packb),
    st.dictionaries(
        st.sampled_from(
            [
                "observation/joint_position",
                "observation/gripper_position",
                "observation/exterior_image_1_left",
                "prompt",
            ]
        ),
        st.one_of(
            wire_scalars,
            st.builds(
                lambda shape, dtype: np.zeros(shape, dtype),
                st.lists(st.integers(0, 4), max_size=3).map(tuple),
                st.sampled_from([np.float32, np.float64, np.uint8, np.int64, np.bool_]),
            ),
        ),
        max_size=4,
    ).map(wire.packb),
)


@FUZZ
@given(requests)
def test_wire_request_decodes_or_is_a_bad_request(message):
    for cameras in ((), DROID_IMAGE_KEYS):  # a policy reading no camera, and DROID's
        try:
            _decode(message, cameras)
        except BadRequest as exc:
            assert "\n" not in str(exc)


@FUZZ
@given(st.one_of(st.text(max_size=6), st.sampled_from(["9" * 5000, "\u00b2", "\u0663"])))
def test_count_cell_is_a_whole_number_or_names_the_line(tmp_path_factory, text):
    """Counts (successes, trials, initial conditions, seeds): any text, Unicode digits and
    numbers past int()'s digit limit included, is a count or the CSV's one-line error."""
    path = tmp_path_factory.getbasetemp() / "counts.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([["n", "x"], [text, "x"]])
    try:
        rows = CsvRows.read(path)
        if rows.lines:
            assert rows.count(rows.lines[0], "n") >= 0
    except EvaluateError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
