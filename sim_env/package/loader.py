"""Reading, validating and writing environment packages.

A package either loads completely or raises one ``EnvPackageError`` naming the file and the
field: nothing is half-loaded. Geometry checks (meshes load, hulls are convex) live in
``geometry.py``; the physics checks (the model compiles, initial conditions do not
interpenetrate) run when the scene is built (``sim_env.scene``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from sim_env.errors import EnvPackageError
from sim_env.package.geometry import check_geometry
from sim_env.package.schema import FORMAT_VERSIONS, EnvPackageSpec
from twinbench.yamlio import load_yaml

ENV_FILE = "env.yaml"


@dataclass(frozen=True)
class EnvPackage:
    """A validated package on disk: its directory, its spec and a hash of its whole content."""

    root: Path
    spec: EnvPackageSpec
    content_hash: str

    def path(self, relative: str) -> Path:
        return self.root / relative

    @property
    def name(self) -> str:
        return self.spec.name


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_spec(data: dict[str, Any], file: Path) -> EnvPackageSpec:
    """Validate the YAML mapping against the schema; every problem is listed with its field."""
    if not isinstance(data, dict):
        raise EnvPackageError("expected a YAML mapping at the top level", file=file)
    version = data.get("format_version")
    if version is not None and (type(version) is not int or version not in FORMAT_VERSIONS):
        readable = " and ".join(str(v) for v in FORMAT_VERSIONS)
        raise EnvPackageError(
            f"format version {version!r} is not supported by this twinbench (it reads versions "
            f"{readable})",
            file=file,
            field="format_version",
        )
    try:
        return EnvPackageSpec.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_format_loc(e['loc']) or '<top>'}: {e['msg']}" for e in exc.errors()]
        first, rest = problems[0].split(": ", 1)
        more = "" if len(problems) == 1 else "; also " + "; ".join(problems[1:])
        raise EnvPackageError(rest + more, file=file, field=first) from None


def read_spec(root: Path) -> EnvPackageSpec:
    file = root / ENV_FILE
    if not root.is_dir():
        raise EnvPackageError("not a directory (an environment package is a directory)", file=root)
    if not file.is_file():
        raise EnvPackageError(f"no {ENV_FILE} in the package directory", file=root)
    data = load_yaml(file, EnvPackageError)
    return parse_spec(data, file)


def _check_names(spec: EnvPackageSpec, file: Path) -> None:
    for field, names in (
        ("cameras", [c.name for c in spec.cameras]),
        ("objects", [o.name for o in spec.objects]),
        ("rubric.criteria", [c.name for c in spec.rubric.criteria]),
    ):
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                raise EnvPackageError(
                    f"duplicate name {name!r}", file=file, field=f"{field}[{i}].name"
                )
            seen.add(name)
    object_names = {o.name for o in spec.objects}
    for i, ic in enumerate(spec.initial_conditions):
        missing = object_names - set(ic.objects)
        extra = set(ic.objects) - object_names
        if missing or extra:
            detail = ", ".join(
                [f"missing pose for {sorted(missing)}"] * bool(missing)
                + [f"unknown objects {sorted(extra)}"] * bool(extra)
            )
            raise EnvPackageError(
                f"{detail} (every object needs exactly one pose)",
                file=file,
                field=f"initial_conditions[{i}].objects",
            )


def _check_files(spec: EnvPackageSpec, root: Path, file: Path) -> None:
    hashes = spec.provenance.files
    root_real = root.resolve()
    for rel in spec.referenced_files():
        path = (root / rel).resolve()
        if Path(rel).is_absolute() or not path.is_relative_to(root_real):
            raise EnvPackageError(
                f"path {rel!r} must be relative and inside the package", file=file
            )
        if not path.is_file():
            raise EnvPackageError(f"referenced file {rel!r} does not exist", file=root / rel)
        if rel not in hashes:
            raise EnvPackageError(
                f"no sha256 recorded for {rel!r} (write packages with sim_env.package.save_package)",
                file=file,
                field="provenance.files",
            )
        if sha256_file(path) != hashes[rel]:
            raise EnvPackageError(
                "content does not match the sha256 in provenance.files (the file changed after packaging)",
                file=root / rel,
            )


def load_spec_checked(root: str | os.PathLike[str]) -> EnvPackage:
    """Parse env.yaml and check names, references and file hashes (no geometry, no physics)."""
    root = Path(root)
    spec = read_spec(root)
    file = root / ENV_FILE
    _check_names(spec, file)
    from sim_env.rubric import check_rubric  # the rubric owns its criteria's parameters

    check_rubric(spec, file)
    _check_files(spec, root, file)
    content_hash = hashlib.sha256(file.read_bytes()).hexdigest()
    return EnvPackage(root=root.resolve(), spec=spec, content_hash=content_hash)


def check_background(spec: EnvPackageSpec, root: Path) -> None:
    """The background panorama, if any, loads as one (``sim_env.envmap``)."""
    from sim_env.envmap import EnvmapFileError, read_envmap

    background = spec.scene.background
    if background is None:
        return
    try:
        read_envmap(root / background.image, np.asarray(background.centre), background.radius)
    except EnvmapFileError as exc:
        raise EnvPackageError(
            str(exc), file=root / background.image, field="scene.background.image"
        ) from None


def check_table_texture(spec: EnvPackageSpec, root: Path) -> None:
    """The table picture, if any, loads as one (``sim_env.table_picture``)."""
    from sim_env.table_picture import TableTextureFileError, read_picture

    table = spec.scene.table_texture
    if table is None:
        return
    try:
        read_picture(root / table.image, table.extent)
    except TableTextureFileError as exc:
        raise EnvPackageError(
            str(exc), file=root / table.image, field="scene.table_texture.image"
        ) from None


def load_package(root: str | os.PathLike[str]) -> EnvPackage:
    """Load and fully validate a package: schema, files, hashes, meshes, convex hulls, the
    background panorama and the table picture."""
    package = load_spec_checked(root)
    check_geometry(package.spec, package.root)
    check_background(package.spec, package.root)
    check_table_texture(package.spec, package.root)
    return package


def save_package(spec: EnvPackageSpec | dict[str, Any], root: str | os.PathLike[str]) -> EnvPackage:
    """Write env.yaml with the sha256 of every referenced file, then load it back validated."""
    root = Path(root)
    data = spec.model_dump(mode="json") if isinstance(spec, EnvPackageSpec) else dict(spec)
    provenance = dict(data.get("provenance") or {})
    provenance.setdefault("created_at", datetime.now(UTC).isoformat(timespec="seconds"))
    from twinbench.version import __version__

    provenance.setdefault("software_version", f"twinbench {__version__}")
    provenance["files"] = {}
    data["provenance"] = provenance
    draft = parse_spec(data, root / ENV_FILE)
    provenance["files"] = {
        rel: sha256_file(root / rel) for rel in draft.referenced_files() if (root / rel).is_file()
    }
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    tmp = root / (ENV_FILE + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, root / ENV_FILE)
    return load_package(root)
