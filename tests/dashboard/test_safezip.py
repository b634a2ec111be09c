"""Uploaded zips are unpacked only when every member stays inside the target, is a plain file
or directory, and the archive is within the count and size limits; refused ones leave nothing."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from dashboard.errors import DashboardError
from dashboard.safezip import ZipLimits, extract_zip


def _zip(*members: tuple[str | zipfile.ZipInfo, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            archive.writestr(name, content)
    buffer.seek(0)
    return buffer


def _symlink(name: str, points_to: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # unix, so external_attr holds the file mode
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, points_to.encode()


def _special(name: str, kind: int) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (kind | 0o644) << 16
    return info, b""


def test_extracts_nested_files(tmp_path: Path):
    archive = _zip(("bundle/policy.yaml", b"name: x\n"), ("bundle/code/m.py", b"X = 1\n"))
    target = extract_zip(archive, tmp_path / "out")
    assert (target / "bundle" / "policy.yaml").read_bytes() == b"name: x\n"
    assert (target / "bundle" / "code" / "m.py").read_text() == "X = 1\n"
    assert not (target / "bundle" / "code" / "m.py").stat().st_mode & 0o111


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (("../evil.txt", b"x"), "climbs out"),
        (("bundle/../../evil.txt", b"x"), "climbs out"),
        (("..\\evil.txt", b"x"), "climbs out"),
        (("/etc/evil", b"x"), "absolute path"),
        (("C:/Windows/evil", b"x"), "absolute path"),
        (_symlink("bundle/link", "/etc/passwd"), "symbolic link"),
        (_special("bundle/fifo", stat.S_IFIFO), "not a regular file"),
    ],
    ids=["dotdot", "nested-dotdot", "backslash-dotdot", "absolute", "drive", "symlink", "fifo"],
)
def test_unsafe_members_are_refused(tmp_path: Path, member, reason):
    archive = _zip(("bundle/policy.yaml", b"ok"), member)
    with pytest.raises(DashboardError, match=reason):
        extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []


def test_oversize_is_refused_before_writing(tmp_path: Path):
    bomb = _zip(("zeros.bin", bytes(2_000_000)))  # compresses to a few kB
    assert len(bomb.getvalue()) < 10_000
    with pytest.raises(DashboardError, match="unpacks to 2000000 bytes"):
        extract_zip(bomb, tmp_path / "out", ZipLimits(max_total_bytes=1_000_000))
    assert not (tmp_path / "out").exists()


def test_too_many_files_is_refused(tmp_path: Path):
    archive = _zip(*[(f"f{i}.txt", b"x") for i in range(11)])
    with pytest.raises(DashboardError, match="11 members; at most 10"):
        extract_zip(archive, tmp_path / "out", ZipLimits(max_files=10))


def test_duplicate_member_is_refused(tmp_path: Path):
    with pytest.warns(UserWarning, match="Duplicate name"):
        archive = _zip(("a.txt", b"1"), ("a.txt", b"2"))
    with pytest.raises(DashboardError, match="appears twice"):
        extract_zip(archive, tmp_path / "out")


def test_not_a_zip(tmp_path: Path):
    with pytest.raises(DashboardError, match="not a readable zip"):
        extract_zip(io.BytesIO(b"PK\x03\x04 but not really"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_existing_target_is_never_reused(tmp_path: Path):
    (tmp_path / "out").mkdir()
    with pytest.raises(DashboardError, match="already exists"):
        extract_zip(_zip(("a.txt", b"1")), tmp_path / "out")
