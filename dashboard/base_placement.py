"""Placing the robot base by a click in the environment view: a click on the table in a world
camera's overlay is the point on the table plane (z = 0) that pixel sees
(:func:`sim_env.overlay.table_point`); the base moves there with the edit
``twinbench env edit --base X,Y,YAW`` makes (:mod:`sim_env.package.base`), validated with the
physics. Only packages on the user's environment path are written; for the others the page
shows the command, for a copy.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import streamlit as st
from streamlit_image_coordinates import streamlit_image_coordinates

from dashboard.env_view import CameraPanel
from dashboard.gallery import GalleryEntry
from sim_env.overlay import Pinhole, table_point
from sim_env.package.base import BasePlacement
from sim_env.package.merge import pose_matrix
from twinbench.errors import TwinbenchError

MOVED = "base_moved"  # session key: the message after a move, shown once


def clicked_point(panel: CameraPanel, click: Mapping[str, float]) -> np.ndarray | None:
    """The table point [3] (m) under a click on ``panel``'s overlay, shown at the click's
    ``width`` x ``height`` (px); ``x``, ``y`` are the clicked pixel's integer offsets."""
    shown = panel.pinhole.intrinsics.scaled(int(click["width"]), int(click["height"]))
    camera = Pinhole(panel.pinhole.view, shown)
    return table_point(camera, (float(click["x"]) + 0.5, float(click["y"]) + 0.5))


def command(entry: GalleryEntry, placement: BasePlacement) -> str:
    """The ``twinbench env edit`` line that makes the same move."""
    copy = "" if entry.origin == "user" else f" -o {entry.env_id}_moved"
    base = f"{placement.x:.3f},{placement.y:.3f},{placement.yaw_deg:g}"
    return f"twinbench env edit {entry.env_id}{copy} --base {base}"


def place_base(entry: GalleryEntry, panel: CameraPanel) -> None:
    """The section: the clickable overlay, the yaw, the command and (user packages) a button."""
    from sim_env.cli import condition_penetrations  # what twinbench env edit checks
    from sim_env.package.edit import PackageEdits, edit_package

    package = entry.package
    st.subheader("Place the robot base")
    if MOVED in st.session_state:
        st.success(st.session_state.pop(MOVED))
    st.caption(
        f"Click the table in {panel.name}'s view: the base (magenta ring) moves to that point "
        "on the table plane, upright; cameras fixed in the world keep their pose relative to it."
    )
    version = f"{entry.env_id}_{package.content_hash[:12]}"  # a moved base: a fresh click
    click = streamlit_image_coordinates(
        panel.overlay, width="content", key=f"base_click_{version}", cursor="crosshair"
    )
    current = BasePlacement.of(pose_matrix(package.spec.robot.base_pose.model_dump()))
    yaw = st.number_input(
        "Yaw [deg]", -180.0, 180.0, round(current.yaw_deg, 1), key=f"base_yaw_{version}"
    )
    if click is None:
        st.caption(
            f"Now at x = {current.x:.3f} m, y = {current.y:.3f} m, yaw {current.yaw_deg:.1f}°."
        )
        return
    point = clicked_point(panel, click)
    if point is None:
        st.warning("That pixel does not see the table plane (z = 0): click on the table.")
        return
    placement = BasePlacement(round(float(point[0]), 3), round(float(point[1]), 3), yaw)
    st.code(command(entry, placement), language="bash")
    if entry.origin != "user":
        st.info(f"{entry.origin} packages are not edited here: run the command for a copy.")
        return
    if st.button("Move the robot base here", key=f"base_move_{version}"):
        try:
            edit_package(
                entry.path, PackageEdits(base=placement), penetrations=condition_penetrations
            )
        except (TwinbenchError, OSError) as exc:
            st.error(f"The base was not moved: {exc}")
            return
        st.session_state[MOVED] = (
            f"Moved the robot base of {entry.env_id} to x = {placement.x:.3f} m, "
            f"y = {placement.y:.3f} m, yaw {placement.yaw_deg:g}°."
        )
        st.rerun()
