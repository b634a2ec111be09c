"""A reconstruct stage whose disk fills up: one DiskFullError naming the file, the stage's
partial output removed (space back), and the earlier finished output left as it was."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from reconstruct.stage import staged_output
from twinbench.errors import DiskFullError


def test_full_disk_in_a_stage_is_one_error_and_leaves_no_partial(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "mesh").mkdir(parents=True)
    (work / "mesh" / "scene_mesh.ply").write_text("the earlier run's mesh")
    with pytest.raises(DiskFullError) as full, staged_output(work, "mesh") as (out_dir, _):
        big = out_dir / "scene_mesh.ply"
        big.write_text("half a mesh")
        raise OSError(errno.ENOSPC, "No space left on device", str(big))
    message = str(full.value)
    assert message.startswith(f"{work}/.mesh.partial-") and "scene_mesh.ply: disk full" in message
    assert "\n" not in message and "free space there" in message
    assert sorted(p.name for p in work.iterdir()) == ["mesh"]
    assert (work / "mesh" / "scene_mesh.ply").read_text() == "the earlier run's mesh"
