"""Plugins: methods, metrics, conventions and datasets from the user's own package, never by editing ivif-bench.

A plugin is a module that registers things when imported, with the same calls
the built-ins use (timm-style)::

    lightning_modules.register_method(name, configs=DIR)   # a FusionModule; DIR holds <profile>.yaml
    metrics.register_metric(metrics.MetricInfo(...))       # a metrics.FusionMetric subclass
    metrics.register_convention(name, reference)
    datamodules.register_dataset(spec, manifest=..., source=...)

It is loaded by the CLI, for every command, from either

* an entry point of the group :data:`ENTRY_POINT_GROUP` (``ivif_bench.plugins``) in
  the package's metadata (``[project.entry-points."ivif_bench.plugins"]`` in its
  ``pyproject.toml``; the value is a module, or ``module:function`` called with no
  arguments), so installing the package is enough; or
* ``--plugin MODULE`` (repeatable), placed after the sub-command like any option.

In a notebook or script, :func:`load_plugins` does the same. The README's
"Your own method" section shows a complete example package (the one the tests install).

Example:
    >>> from benchmarks.plugins import load_plugins
    >>> loaded = load_plugins()  # every installed plugin; load_plugins(["my_package.plugin"]) adds modules
"""

from __future__ import annotations

import importlib
import types
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Iterable

from datamodules.errors import UserError

__all__ = ["ENTRY_POINT_GROUP", "Plugin", "load_plugins", "loaded_plugins"]

ENTRY_POINT_GROUP = "ivif_bench.plugins"


@dataclass(frozen=True)
class Plugin:
    """A loaded plugin: its name, what was imported (``module`` or ``module:function``), where it came from."""

    name: str
    target: str
    origin: str  # "entry point of <distribution> <version>" or "--plugin"


_LOADED: dict[str, Plugin] = {}


def load_plugins(modules: Iterable[str] = (), entry_point_plugins: bool = True) -> list[Plugin]:
    """Import every installed plugin (entry points of :data:`ENTRY_POINT_GROUP`) and ``modules``; once each.

    Args:
        modules: module names to import as plugins (``--plugin``).
        entry_point_plugins: also load the installed entry points.

    Returns:
        Every plugin loaded so far in this process.

    Raises:
        UserError: a ``--plugin`` module that does not exist. Any other error
            raised while importing a plugin propagates with its traceback (a bug
            of the plugin, or an ivif-bench API it uses wrongly).
    """
    if entry_point_plugins:
        for point in entry_points(group=ENTRY_POINT_GROUP):
            if point.value in _LOADED:
                continue
            target = point.load()
            if callable(target) and not isinstance(target, types.ModuleType):
                target()
            dist = getattr(point, "dist", None)
            origin = f"entry point of {dist.name} {dist.version}" if dist is not None else "entry point"
            _LOADED[point.value] = Plugin(point.name, point.value, origin)
    for module in modules:
        module = module.strip()
        if not module or module in _LOADED:
            continue
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name is None or not module.startswith(err.name):  # a module the plugin imports is missing
                raise
            raise UserError(f"--plugin {module}: no module {err.name!r} on the Python path "
                            "(install the plugin's package, or put its folder on PYTHONPATH)") from None
        _LOADED[module] = Plugin(module, module, "--plugin")
    return loaded_plugins()


def loaded_plugins() -> list[Plugin]:
    """The plugins loaded in this process, in load order (recorded in a run's provenance)."""
    return list(_LOADED.values())
