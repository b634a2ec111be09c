"""cotrain: scripted demonstrations in reconstructed scenes, exported as LeRobot datasets."""

__all__: list[str] = []
