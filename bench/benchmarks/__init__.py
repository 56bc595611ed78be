"""Benchmark registry; every module in this package registers its benchmarks on import."""

import importlib
import pkgutil

from .base import REGISTRY, Benchmark, Case, Context, register  # noqa: F401


def all_benchmarks() -> list[Benchmark]:
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_") and mod.name != "base":  # _x: helpers
            importlib.import_module(f"{__name__}.{mod.name}")
    return sorted(REGISTRY.values(), key=lambda b: b.order)
