"""The source world (a textured MuJoCo tabletop standing in for the real table), its simulated
hand-held phone scan, and the build that turns both into the bundled packages
(``python -m reconstruct.synthetic.build``)."""

from reconstruct.synthetic.scan import ScanConfig, ScanTruth, render_scan
from reconstruct.synthetic.world import (
    SourceObject,
    SourceWorldConfig,
    truth_centroids,
    write_source_world,
)

__all__ = [
    "ScanConfig",
    "ScanTruth",
    "SourceObject",
    "SourceWorldConfig",
    "render_scan",
    "truth_centroids",
    "write_source_world",
]
