"""The environment package (format v1): schema, loading, validation and writing."""

from sim_env.package.loader import (
    ENV_FILE,
    EnvPackage,
    load_package,
    load_spec_checked,
    save_package,
    sha256_file,
)
from sim_env.package.schema import (
    FORMAT_VERSION,
    CameraSpec,
    CriterionSpec,
    EnvPackageSpec,
    EpisodeSpec,
    InitialCondition,
    ObjectSpec,
    Pose,
    Provenance,
    RobotSpec,
    RubricSpec,
    SceneSpec,
    VisualSpec,
)

__all__ = [
    "ENV_FILE",
    "FORMAT_VERSION",
    "CameraSpec",
    "CriterionSpec",
    "EnvPackage",
    "EnvPackageSpec",
    "EpisodeSpec",
    "InitialCondition",
    "ObjectSpec",
    "Pose",
    "Provenance",
    "RobotSpec",
    "RubricSpec",
    "SceneSpec",
    "VisualSpec",
    "load_package",
    "load_spec_checked",
    "save_package",
    "sha256_file",
]
