"""Resolve a ``module:Class`` entry point to a Policy class, preferring code shipped in a directory.

Bundles carry their policy code next to their weights; importing it under a name unique to the
directory and the file's version keeps two bundles that both ship ``policy.py`` apart, and a
bundle rewritten in the same process from loading stale code.

The trust model (BUNDLE.md): the code a bundle runs is either shipped inside the bundle's own
directory or part of an installed distribution, named by its dotted module name. A filesystem
path, a module in whatever directory the command runs from, or a shipped file that is a link
out of the bundle is refused before anything is imported.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import keyword
import sys
from pathlib import Path
from types import ModuleType

from evaluate.errors import EvaluateError
from evaluate.policy import Policy


def load_entry_class(entry_point: str, directory: Path, *, file: Path) -> type[Policy]:
    """The Policy subclass ``entry_point`` names.

    Args:
        entry_point: ``module:Class``; ``module`` is looked up in ``directory`` first (a
            ``module.py`` file or a ``module/`` package), then on sys.path.
        directory: where shipped code lives.
        file: the config file that declared the entry point, for error messages.

    Raises:
        EvaluateError: the module or class does not exist, or the class is not a Policy.
    """
    module_name, _, class_name = entry_point.partition(":")
    module = _import(module_name, directory, file)
    entry = getattr(module, class_name, None)
    if isinstance(entry, type) and issubclass(entry, Policy):
        return entry
    found = sorted(
        name
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, Policy) and value is not Policy
    )
    what = "not found" if entry is None else f"is {entry!r}, not a Policy subclass"
    raise EvaluateError(
        f"{class_name!r} {what} in module {module_name!r}; Policy classes there: {found}",
        file=file,
        field="entry_point",
    )


def check_module_name(module_name: str, file: Path) -> None:
    """Refuse anything but a dotted Python module name (``pkg.module``): never a path.

    Raises:
        EvaluateError: naming ``file``'s ``entry_point``.
    """
    parts = module_name.split(".")
    if not all(part.isidentifier() and not keyword.iskeyword(part) for part in parts):
        raise EvaluateError(
            f"entry point module {module_name!r} is not a dotted Python module name "
            "(code comes from the bundle's directory or an installed package, never a path)",
            file=file,
            field="entry_point",
        )


def _import(module_name: str, directory: Path, file: Path) -> ModuleType:
    check_module_name(module_name, file)
    top, _, rest = module_name.partition(".")
    package_init = directory / top / "__init__.py"
    single_file = directory / f"{top}.py"
    if package_init.is_file() or single_file.is_file():
        location = package_init if package_init.is_file() else single_file
        if not location.resolve().is_relative_to(directory.resolve()):
            raise EvaluateError(
                f"shipped module {location.name} links outside the bundle ({location.resolve()})",
                file=file,
                field="entry_point",
            )
        try:
            alias = _load_shipped(top, location)
            return importlib.import_module(f"{alias}.{rest}" if rest else alias)
        except (Exception, SystemExit) as exc:  # the bundle's own code, even sys.exit: report it
            raise EvaluateError(
                f"shipped module {module_name!r} does not import: {_describe(exc)}",
                file=file,
                field="entry_point",
            ) from exc
    if (
        top not in importlib.metadata.packages_distributions()
        and top not in sys.stdlib_module_names
    ):
        raise EvaluateError(
            f"entry point module {module_name!r} is neither shipped in {directory} "
            f"({top}.py or {top}/__init__.py) nor part of an installed distribution",
            file=file,
            field="entry_point",
        )
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (module_name + ".").startswith(exc.name + "."):
            raise EvaluateError(  # the module exists but one of its own imports is missing
                f"entry point module {module_name!r} does not import: {_describe(exc)}",
                file=file,
                field="entry_point",
            ) from exc
        raise EvaluateError(
            f"entry point module {module_name!r} is neither shipped in {directory} "
            f"({top}.py or {top}/__init__.py) nor importable",
            file=file,
            field="entry_point",
        ) from exc


def _describe(exc: BaseException) -> str:
    """One line for an import failure: the error, and for a syntax error its file and line."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError in {Path(exc.filename or '?').name} line {exc.lineno}: {exc.msg}"
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f" ({Path(tb.tb_frame.f_code.co_filename).name} line {tb.tb_lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _load_shipped(top: str, location: Path) -> str:
    """Import a shipped top-level module or package under a unique alias; return the alias."""
    stat = location.stat()
    key = f"{location.resolve()}:{stat.st_mtime_ns}:{stat.st_size}"
    alias = f"_twinbench_bundle_{hashlib.sha1(key.encode()).hexdigest()[:12]}_{top}"
    if alias in sys.modules:
        return alias
    is_package = location.name == "__init__.py"
    spec = importlib.util.spec_from_file_location(
        alias, location, submodule_search_locations=[str(location.parent)] if is_package else None
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {location}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[alias]
        raise
    return alias
