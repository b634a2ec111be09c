"""dashboard: the Streamlit app over the results store (``twinbench dashboard``).

Only light names are exported here: ``twinbench --help`` imports this package, so Streamlit,
pandas and the pages load only when the app runs.
"""

from dashboard.errors import DashboardError
from dashboard.safezip import ZipLimits, extract_zip
from dashboard.settings import DEFAULT_STORE, STORE_ENV_VAR, DashboardSettings

__all__ = [
    "DEFAULT_STORE",
    "STORE_ENV_VAR",
    "DashboardError",
    "DashboardSettings",
    "ZipLimits",
    "extract_zip",
]
