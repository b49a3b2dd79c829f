"""Take a sync test module's tests and fixtures into a module of this folder."""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

# What a test that cannot run through the async engine asks for or does: it makes an engine
# of its own from the URL (a CLI run, other processes), or writes from threads.
_OWN_ENGINE = ("database_url", "tmp_path")
_OWN_ENGINE_SOURCE = ("create_engine(", "Thread(", "subprocess")


def through_async(test: Any) -> bool:
    """True when every statement of ``test`` goes through the ``engine`` fixture's engine."""
    if set(inspect.signature(test).parameters) & set(_OWN_ENGINE):
        return False
    source = inspect.getsource(test)
    return not any(marker in source for marker in _OWN_ENGINE_SOURCE)


def rerun(module: ModuleType, namespace: dict[str, Any]) -> list[str]:
    """Put ``module``'s fixtures, helpers and the tests that :func:`through_async` accepts into
    ``namespace`` (a test module's globals); returns the names of the tests left out."""
    left_out = []
    for name, value in vars(module).items():
        if name.startswith("__"):
            continue
        if name.startswith("test_") and callable(value) and not through_async(value):
            left_out.append(name)
            continue
        namespace[name] = value
    return left_out
