"""dashboard's user errors: uploads and submissions it refuses, with the reason."""

from twinbench.errors import TwinbenchError


class DashboardError(TwinbenchError):
    """An upload, a policy spec or a setting the dashboard cannot use."""
