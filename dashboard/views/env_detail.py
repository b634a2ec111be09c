"""Environment view: one package as its robot cameras see it at reset, with its meshes, hulls,
table frame and robot base drawn over the render, the top-down picture, the objects and the
rubric, so a scan can be checked without reading env.yaml; a click on the table places the robot
base (``dashboard.base_placement``). ``?env=ID`` opens a package."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from dashboard import base_placement, env_view, gallery
from dashboard.errors import DashboardError
from dashboard.settings import DashboardSettings
from reconstruct.package import PackageOutputs
from sim_env.package import EnvPackage
from twinbench.errors import TwinbenchError


def render(settings: DashboardSettings) -> None:
    st.title("Environment view")
    entries = {e.env_id: e for e in gallery.gallery_entries(gallery.store_envs(settings))}
    if not entries:
        st.info("No environment packages found (bundled, in TWINBENCH_ENV_PATH or ./envs).")
        return
    env_id = st.selectbox("Environment", list(entries), key="env", bind="query-params")
    entry = entries[env_id]
    where = f"`{entry.path}`" if entry.path else "not found on this machine"
    st.caption(f"{entry.origin} · {where}")
    if entry.package is None:
        st.error(f"Cannot load this package: {entry.error}")
        return
    package = entry.package
    with st.spinner(f"Rendering {env_id}'s cameras (seconds, once per package version)…"):
        try:
            view = env_view.cached_view(package.content_hash, str(package.root))
        except TwinbenchError as exc:
            st.error(f"Cannot render this package: {exc}")
            return
    st.markdown(f"**Instruction:** {package.spec.instruction}")
    _cameras(view)
    _legend(view)
    _top_down(package)
    _objects(package, view)
    _rubric(package)
    fixed = [panel for panel in view.cameras if panel.fixed]
    if fixed:
        base_placement.place_base(entry, fixed[0])


def _cameras(view: env_view.EnvView) -> None:
    for panel in view.cameras:
        st.subheader(panel.name)
        left, right = st.columns(2)
        left.image(
            panel.render, caption=f"{panel.name}: what the policy sees at reset", width="stretch"
        )
        right.image(
            panel.overlay,
            caption=f"{panel.name}: mesh edges, hull outlines, table frame, robot base",
            width="stretch",
        )


def _legend(view: env_view.EnvView) -> None:
    swatches = " ".join(
        f'<span style="white-space:nowrap"><span style="display:inline-block;width:0.9em;'
        f'height:0.9em;background:{e.colour};border:1px solid #444"></span> '
        f"{html.escape(e.label)}</span>&emsp;"
        for e in view.legend
    )
    st.markdown(f"**Legend:** {swatches}", unsafe_allow_html=True)


def _top_down(package: EnvPackage) -> None:
    picture = PackageOutputs.at(package.root).top_down
    if picture.is_file():
        st.subheader("From above")
        try:
            image = gallery.read_picture(picture)
        except DashboardError as exc:
            st.warning(str(exc))
            return
        st.image(image, caption="table, objects and robot base (reconstruct)", width=480)


def _objects(package: EnvPackage, view: env_view.EnvView) -> None:
    spec = package.spec
    st.subheader("Objects")
    if not spec.objects:
        st.info("This package has no movable objects.")
        return
    roles = env_view.object_roles(spec)
    st.dataframe(
        pd.DataFrame(
            {
                "object": [o.name for o in spec.objects],
                "role": [roles[o.name] for o in spec.objects],
                "mass [kg]": [view.masses[o.name] for o in spec.objects],
                "given as": ["mass" if o.mass is not None else "density" for o in spec.objects],
                "friction (slide, spin, roll)": [
                    ", ".join(f"{f:g}" for f in o.friction) for o in spec.objects
                ],
                "hulls": [len(o.collision_hulls) for o in spec.objects],
                "splats": ["yes" if o.splats else "no" for o in spec.objects],
            }
        ),
        hide_index=True,
    )
    table = ", ".join(f"{f:g}" for f in spec.scene.friction)
    st.caption(f"Table friction (slide, spin, roll): {table}")


def _rubric(package: EnvPackage) -> None:
    spec = package.spec
    st.subheader("Rubric")
    st.dataframe(
        pd.DataFrame(
            {
                "criterion": [c.name for c in spec.rubric.criteria],
                "kind": [c.kind for c in spec.rubric.criteria],
                "params": [
                    ", ".join(f"{k}={v}" for k, v in c.params.items()) for c in spec.rubric.criteria
                ],
                "requires": [", ".join(c.requires) for c in spec.rubric.criteria],
            }
        ),
        hide_index=True,
    )


if __name__ == "__main__":
    render(DashboardSettings.from_env())
