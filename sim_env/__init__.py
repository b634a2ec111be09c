"""sim_env: the DROID robot in MuJoCo, driven by an environment package."""

from sim_env.errors import EnvPackageError, SimEnvError, SplatFileError

__all__ = ["EnvPackageError", "SimEnvError", "SplatFileError"]
