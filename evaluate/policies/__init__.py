"""The registry of policy specs: one string names any policy twinbench can evaluate.

A spec is ``SCHEME:ARGUMENT`` (``openpi://127.0.0.1:8000?horizon=8``, ``bundle:ckpt/``) or a
bare ``SCHEME`` (``scripted``). Each scheme's factory receives the text after the first colon
(possibly empty) and imports its own dependencies, so naming one scheme never loads another's.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from evaluate.errors import EvaluateError
from evaluate.policy import Policy

PolicyFactory = Callable[[str], Policy]
PolicyFingerprint = Callable[[str], str]

_SCHEMES: dict[str, PolicyFactory] = {}
_FINGERPRINTS: dict[str, PolicyFingerprint] = {}


def register_policy_scheme(
    name: str,
    factory: PolicyFactory,
    *,
    replace: bool = False,
    fingerprint: PolicyFingerprint | None = None,
) -> None:
    """Make ``name:ARGUMENT`` specs resolve to ``factory(ARGUMENT)``; ``fingerprint(ARGUMENT)``,
    where given, is a digest of what the policy is made of (a checkpoint's files), so that a
    checkpoint retrained in place is known as a different policy although its spec is not.

    Raises:
        ValueError: ``name`` is not a lowercase identifier, or is taken and ``replace`` is false.
    """
    if not name.isidentifier() or name != name.lower():
        raise ValueError(f"policy scheme {name!r} must be a lowercase identifier")
    if name in _SCHEMES and not replace:
        raise ValueError(f"policy scheme {name!r} is already registered")
    _SCHEMES[name] = factory
    if fingerprint is None:
        _FINGERPRINTS.pop(name, None)
    else:
        _FINGERPRINTS[name] = fingerprint


def policy_fingerprint(spec: str) -> str | None:
    """A digest of the files the policy ``spec`` names (a bundle's), or None where twinbench
    cannot see them (a policy server, a built-in policy).

    Raises:
        EvaluateError: the spec names files that are not there.
    """
    scheme, _, argument = spec.partition(":")
    fingerprint = _FINGERPRINTS.get(scheme)
    return None if fingerprint is None else fingerprint(argument)


SECRET_OPTIONS = frozenset({"api_key"})  # spec options never stored, printed or shown
CREDENTIAL_OPTIONS = SECRET_OPTIONS | {"api_key_env"}  # how to authenticate, not which policy


def _options(spec: str) -> list[tuple[str, str]]:
    return parse_qsl(spec.partition("?")[2], keep_blank_values=True)


def public_spec(spec: str) -> str:
    """``spec`` without its credentials: the policy's id in the store, logs, reports, pages.

    ``openpi://gpu:8000?api_key=K&horizon=8`` -> ``openpi://gpu:8000?horizon=8``; the same
    policy reached with ``api_key_env=VAR`` has the same id.
    """
    head, sep, _ = spec.partition("?")
    kept = [(k, v) for k, v in _options(spec) if k not in CREDENTIAL_OPTIONS]
    return f"{head}?{urlencode(kept, safe=':/,')}" if sep and kept else head


def has_secret(spec: str) -> bool:
    """Whether ``spec`` holds a secret itself (rather than naming where to find it)."""
    return any(k in SECRET_OPTIONS for k, _ in _options(spec))


SANDBOXED_SCHEME = "sandboxed"  # registered by evaluate.sandbox


def untrusted_spec(spec: str) -> str:
    """The spec to run a policy someone else submitted: a bundle runs in the sandbox
    (``bundle:PATH`` -> ``sandboxed:PATH``); a server's or a built-in policy is unchanged."""
    scheme, sep, argument = spec.partition(":")
    return f"{SANDBOXED_SCHEME}:{argument}" if scheme == "bundle" and sep else spec


def policy_schemes() -> tuple[str, ...]:
    """The registered scheme names, sorted."""
    return tuple(sorted(_SCHEMES))


def make_policy(spec: str) -> Policy:
    """Build the policy a spec names.

    Raises:
        EvaluateError: unknown scheme (with the valid ones and a near match) or a bad argument.
    """
    scheme, _, argument = spec.partition(":")
    factory = _SCHEMES.get(scheme)
    if factory is None:
        valid = ", ".join(policy_schemes())
        near = difflib.get_close_matches(scheme, _SCHEMES, n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        if not near and Path(spec).exists():
            hint = f" For a checkpoint directory write 'bundle:{spec}'."
        raise EvaluateError(
            f"unknown policy scheme {scheme!r} in {public_spec(spec)!r}; valid: {valid}.{hint}"
        )
    return factory(argument)


def _openpi(argument: str) -> Policy:
    from evaluate.policies.openpi import OpenpiConfig, OpenpiPolicy

    return OpenpiPolicy(OpenpiConfig.from_spec(f"openpi:{argument}"))


def _bundle(argument: str) -> Policy:
    from evaluate.bundle import load_bundle

    if not argument:
        raise EvaluateError("policy spec 'bundle:' needs a path: bundle:PATH")
    return load_bundle(argument)


def _bundle_fingerprint(argument: str) -> str:
    from evaluate.bundle import bundle_digest

    if not argument:
        raise EvaluateError("policy spec 'bundle:' needs a path: bundle:PATH")
    return bundle_digest(argument)


def _scripted(argument: str) -> Policy:
    from evaluate.policies.scripted import make_scripted

    return make_scripted(argument)


register_policy_scheme("openpi", _openpi)
register_policy_scheme("bundle", _bundle, fingerprint=_bundle_fingerprint)
register_policy_scheme("scripted", _scripted)

__all__ = [
    "SANDBOXED_SCHEME",
    "PolicyFactory",
    "make_policy",
    "policy_fingerprint",
    "policy_schemes",
    "register_policy_scheme",
    "untrusted_spec",
]
