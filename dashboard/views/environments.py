"""Environments page: every environment package, with camera previews, the instruction, the
objects and where the package came from."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import gallery
from dashboard.errors import DashboardError
from dashboard.settings import DashboardSettings
from sim_env.package import EnvPackage


def render(settings: DashboardSettings) -> None:
    st.title("Environments")
    entries = gallery.gallery_entries(gallery.store_envs(settings))
    if not entries:
        st.info("No environment packages found (bundled, in TWINBENCH_ENV_PATH or ./envs).")
        return
    st.caption(f"{len(entries)} environment packages")
    for entry in entries:
        with st.container(border=True):
            _entry(entry)


def _entry(entry: gallery.GalleryEntry) -> None:
    st.subheader(entry.env_id)
    where = f"`{entry.path}`" if entry.path else "not found on this machine"
    st.caption(f"{entry.origin} · {where}")
    st.page_link(
        "views/env_detail.py",
        label="Check it in the environment view",
        icon=":material/center_focus_strong:",
        query_params={"env": entry.env_id},
    )
    if entry.package is None:
        st.warning(f"Cannot load this package: {entry.error}")
        return
    package = entry.package
    if entry.stale_hashes:
        st.warning(
            "The store's episodes of this id ran on a different version of the package "
            f"(hash {', '.join(h[:12] for h in entry.stale_hashes)}; here {package.content_hash[:12]})."
        )
    left, right = st.columns([3, 2])
    with left:
        _previews(package)
    with right:
        _details(package)


def _previews(package: EnvPackage) -> None:
    files = gallery.preview_files(package.root)
    if files:
        shown = {}
        for file in files:
            try:
                shown[file.stem] = gallery.read_picture(file)
            except DashboardError as exc:
                st.warning(str(exc))
        if shown:
            st.image(list(shown.values()), caption=list(shown), width=320)
        return
    try:
        images = gallery.rendered_previews(package.content_hash, str(package.root))
    except Exception as exc:  # a preview is optional: say why it is missing, keep the page
        st.warning(f"Cannot render previews: {exc}")
        return
    st.image(list(images.values()), caption=list(images), width=320)


def _details(package: EnvPackage) -> None:
    spec = package.spec
    st.markdown(f"**Instruction:** {spec.instruction}")
    st.markdown(
        f"**Rubric:** {', '.join(c.name for c in spec.rubric.criteria)} · "
        f"{len(spec.initial_conditions)} initial conditions · "
        f"{spec.episode.horizon_steps} steps at {spec.episode.control_hz:g} Hz"
    )
    if spec.objects:
        st.dataframe(
            pd.DataFrame(
                {
                    "object": [o.name for o in spec.objects],
                    "mass [kg]": [o.mass for o in spec.objects],
                    "density [kg/m³]": [o.density for o in spec.objects],
                    "mesh": [o.visual.mesh for o in spec.objects],
                }
            ),
            hide_index=True,
        )
    cameras = ", ".join(f"{c.name} ({c.width}×{c.height}, on {c.parent})" for c in spec.cameras)
    st.markdown(f"**Cameras:** {cameras}")
    prov = spec.provenance
    lines = [
        f"created by `{prov.created_by}` at {prov.created_at} with {prov.software_version}",
        f"source: {prov.source}" if prov.source else "",
        f"notes: {prov.notes}" if prov.notes else "",
        f"{len(prov.files)} files hashed · content hash `{package.content_hash[:12]}`",
    ]
    st.markdown("**Provenance:** " + "  \n".join(line for line in lines if line))


if __name__ == "__main__":
    render(DashboardSettings.from_env())
