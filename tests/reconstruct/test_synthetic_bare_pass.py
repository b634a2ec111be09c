"""The simulated bare-table pass (``synthetic.build --bare-pass``): the phone films the same
table with its objects taken off, on its own orbit, as a user would after the scan."""

from __future__ import annotations

import numpy as np

from reconstruct.synthetic.build import BARE_SEED, BuildConfig, stage_configs, with_bare_pass
from reconstruct.synthetic.scan import PhoneRenderer, ScanConfig, camera_path
from sim_env.package import load_package
from sim_env.registry import resolve_env


def _red(image: np.ndarray) -> int:
    """Pixels of the red box's red."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return int(np.sum((r > 0.45) & (r > 2.2 * g) & (r > 2.2 * b)))


def test_the_bare_phone_sees_the_table_without_its_objects():
    source = load_package(resolve_env("tabletop_source"))
    config = ScanConfig(size=(240, 180))
    pose = camera_path(np.array([4.0]), config)[0]
    phone, bare = PhoneRenderer(source, config), PhoneRenderer(source, config, bare=True)
    try:
        scanned, empty = phone.render(pose), bare.render(pose)
    finally:
        phone.close()
        bare.close()
    assert _red(scanned) > 100 and _red(empty) == 0
    table = np.abs(scanned - empty).max(axis=-1) < 1e-3  # the rest of the frame is the same
    assert table.mean() > 0.8


def test_the_bare_pass_is_its_own_orbit_and_reaches_the_bare_stage(tmp_path):
    config = with_bare_pass(BuildConfig(), 10.0)
    assert config.bare is not None and config.bare.duration_s == 10.0
    assert config.bare.seed == config.scan.seed + BARE_SEED
    assert config.bare.close is None and config.bare.exterior is None
    video = tmp_path / "bare.mp4"
    video.write_bytes(b"video")
    source = load_package(resolve_env("tabletop_source"))
    bare = stage_configs(config, source, video)["bare"]
    assert bare.source == str(video) and len(bare.digest) == 64
    assert stage_configs(BuildConfig(), source)["bare"].source == ""
