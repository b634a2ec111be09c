"""Whether a control step's physics can be trusted: MuJoCo's own warnings, read after the step.

MuJoCo does not stop on a bad number. A NaN, infinite or huge (> 1e10) position, velocity or
acceleration makes it warn, *reset the state* (``mj_resetData``) and carry on, so the state
after the step is finite and looks like a fresh start; a bad control makes it zero every
control for that step; running out of arena memory makes it drop contacts or constraints; a
(near) singular mass matrix makes it clamp the pivot. After any of these the rest of the
episode is not the scene's physics, so each is a divergence, as is a non-finite state.

The counters in ``data.warning`` are cumulative, but each reset zeroes them and then counts
its own warning as 1: comparing counts before and after a step misses every reset after the
first. So :func:`clear_warnings` zeroes them before a step and any count after it is news.
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim_env.errors import SimulationDiverged

_W = mujoco.mjtWarning
# warning -> (what MuJoCo did, what was wrong, what data.warning[w].lastinfo indexes)
_WARNINGS: dict[mujoco.mjtWarning, tuple[str, str, str | None]] = {
    _W.mjWARN_INERTIA: ("clamped the mass matrix", "(near) singular inertia", "dof"),
    _W.mjWARN_CONTACTFULL: ("dropped contacts", "out of arena memory", None),
    _W.mjWARN_CNSTRFULL: ("dropped constraints", "out of arena memory", None),
    _W.mjWARN_BADQPOS: ("reset the simulation", "NaN, infinite or huge position", "qpos"),
    _W.mjWARN_BADQVEL: ("reset the simulation", "NaN, infinite or huge velocity", "dof"),
    _W.mjWARN_BADQACC: ("reset the simulation", "NaN, infinite or huge acceleration", "dof"),
    _W.mjWARN_BADCTRL: ("zeroed every control", "NaN, infinite or huge control", "actuator"),
}


def clear_warnings(data: mujoco.MjData) -> None:
    """Zero MuJoCo's warning counters, so that :func:`check_stability` sees one step's."""
    data.warning.number[:] = 0


def check_stability(model: mujoco.MjModel, data: mujoco.MjData, step: int) -> None:
    """Raise :class:`SimulationDiverged` if MuJoCo warned since :func:`clear_warnings` or the
    state is not finite; ``step`` is the control step, for the message."""
    counts = data.warning.number
    if counts.any():
        fired = [w for w in _WARNINGS if counts[w]]
        raise SimulationDiverged(
            "; ".join(_describe(model, w, int(data.warning[w].lastinfo)) for w in fired),
            step=step,
            warning=fired[0].name,
        )
    if not (np.isfinite(data.qpos).all() and np.isfinite(data.qvel).all()):
        bad = np.flatnonzero(~np.isfinite(data.qpos))
        if bad.size:
            where = _qpos(model, int(bad[0]))
        else:
            where = _dof(model, int(np.flatnonzero(~np.isfinite(data.qvel))[0]))
        raise SimulationDiverged(f"non-finite state in {where}", step=step, warning=None)


def _describe(model: mujoco.MjModel, warning: mujoco.mjtWarning, info: int) -> str:
    action, problem, index = _WARNINGS[warning]
    text = f"MuJoCo {action}: {problem} ({warning.name})"
    if index == "qpos" and 0 <= info < model.nq:
        return f"{text} in {_qpos(model, info)}"
    if index == "dof" and 0 <= info < model.nv:
        return f"{text} in {_dof(model, info)}"
    if index == "actuator" and 0 <= info < model.nu:
        return f"{text} on actuator '{model.actuator(info).name}'"
    return text


def _joint(model: mujoco.MjModel, joint: int) -> str:
    name = model.joint(joint).name
    if name:
        return f"joint '{name}'"
    return f"joint #{joint} of body '{model.body(model.jnt_bodyid[joint]).name}'"


def _qpos(model: mujoco.MjModel, i: int) -> str:
    joint = int(np.searchsorted(model.jnt_qposadr, i, side="right")) - 1
    return f"qpos[{i - model.jnt_qposadr[joint]}] of {_joint(model, joint)}"


def _dof(model: mujoco.MjModel, i: int) -> str:
    joint = int(model.dof_jntid[i])
    return f"dof {i - model.jnt_dofadr[joint]} of {_joint(model, joint)}"
