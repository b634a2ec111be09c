"""studies: experiments built from the layers below — the demo, the fidelity study of a twin
against its source world, and the camera-only locator policies that fidelity ranks.

A study composes sim_env, reconstruct, evaluate and cotrain; nothing below imports a study.
"""
