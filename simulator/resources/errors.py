"""The error of a command that would not fit (a leaf module: the estimates raise it too)."""

from __future__ import annotations


class ResourceError(RuntimeError):
    """A command would not fit; ``str()`` is the one line the CLI prints (exit 2)."""


__all__ = ["ResourceError"]
