"""sim_env's user errors."""

from twinbench.errors import TwinbenchError


class SimEnvError(TwinbenchError):
    """An environment package, a model or an action that sim_env cannot use."""


class EnvPackageError(SimEnvError):
    """An environment package on disk is invalid (names the file and field)."""


class SplatFileError(SimEnvError):
    """A Gaussian splat file is unreadable or inconsistent (names the file and field)."""


class SimulationDiverged(SimEnvError):
    """The physics gave up during a control step (MuJoCo reset the state, zeroed the controls
    or dropped contacts, or the state is not finite): the episode cannot go on.

    Attributes:
        step: the control step it happened in (1 = the episode's first).
        warning: MuJoCo's warning, e.g. ``"mjWARN_BADQACC"``; None for a non-finite state
            MuJoCo did not warn about.
    """

    def __init__(self, message: str, *, step: int, warning: str | None):
        self.step, self.warning = step, warning
        super().__init__(f"simulation diverged at step {step}: {message}")
