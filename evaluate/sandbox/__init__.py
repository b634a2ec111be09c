"""Running other people's bundles: ``sandboxed:PATH`` loads a bundle in a confined child.

Bundles uploaded through the dashboard and every bundle a queue worker runs go through here
(``evaluate.policies.untrusted_spec``); BUNDLE.md describes what the sandbox holds back.
"""

from __future__ import annotations

from evaluate.errors import EvaluateError
from evaluate.policies import SANDBOXED_SCHEME, policy_fingerprint, register_policy_scheme
from evaluate.policy import Policy
from evaluate.sandbox.policy import SandboxConfig, SandboxedPolicy


def _sandboxed(argument: str) -> Policy:
    if not argument:
        raise EvaluateError(f"policy spec '{SANDBOXED_SCHEME}:' needs a path: sandboxed:PATH")
    return SandboxedPolicy(argument)


def _sandboxed_fingerprint(argument: str) -> str:
    fingerprint = policy_fingerprint(f"bundle:{argument}")
    assert fingerprint is not None  # bundles always have one
    return fingerprint


register_policy_scheme(SANDBOXED_SCHEME, _sandboxed, fingerprint=_sandboxed_fingerprint)

__all__ = ["SandboxConfig", "SandboxedPolicy"]
