"""The source worlds (textured MuJoCo tabletops standing in for the real table, described as
data in ``spec``), their simulated hand-held phone scan, and the build that turns both into
the bundled packages (``python -m reconstruct.synthetic.build``)."""

from reconstruct.synthetic.scan import ScanConfig, ScanTruth, render_scan
from reconstruct.synthetic.spec import WORLDS, Lighting, SourceObject, SourceWorldConfig, TablePrint
from reconstruct.synthetic.world import truth_centroids, write_source_world

__all__ = [
    "WORLDS",
    "Lighting",
    "ScanConfig",
    "ScanTruth",
    "SourceObject",
    "SourceWorldConfig",
    "TablePrint",
    "render_scan",
    "truth_centroids",
    "write_source_world",
]
