"""``twinbench eval -o`` naming a file is one clear error, and the file is left as it was
(it used to be a FileExistsError traceback from the store's mkdir; benchmarks.hostile)."""

from __future__ import annotations

from typer.testing import CliRunner

from twinbench_cli import app


def test_run_dir_that_is_a_file_is_one_clear_error(tmp_path):
    out = tmp_path / "run"
    out.write_text("precious")
    args = ["eval", "-e", "primitive_cube_bowl", "-p", "scripted:good", "-n", "1", "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert (
        str(result.exception)
        == f"{out}: is a file, not a run directory: give -o a folder (new or an earlier run's)"
    )
    assert out.read_text() == "precious"
