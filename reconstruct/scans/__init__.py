"""Real captures that nobody in this project made, and what they are checked against: the
Buddha photos' own cameras (``buddha_truth``) and the build of the bundled real-scan
environment from them (``python -m reconstruct.scans.buddha``)."""

from reconstruct.scans.buddha_truth import (
    BUDDHA_DIR,
    DatasetCameras,
    DatasetComparison,
    compare_with_dataset,
)

__all__ = ["BUDDHA_DIR", "DatasetCameras", "DatasetComparison", "compare_with_dataset"]
