"""Regenerate the bundled environment packages: ``python -m sim_env.bundled``."""

from __future__ import annotations

import shutil

from sim_env.primitives import write_primitive_package
from sim_env.registry import BUNDLED_DIR


def main() -> None:
    target = BUNDLED_DIR / "primitive_cube_bowl"
    shutil.rmtree(target, ignore_errors=True)
    package = write_primitive_package(target)
    print(f"wrote {package.root}")


if __name__ == "__main__":
    main()
