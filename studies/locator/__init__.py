"""Camera-only pick-and-place policies (a learned object locator plus scripted motion), the
graded ladder the fidelity study ranks."""
