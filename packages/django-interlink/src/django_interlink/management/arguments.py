"""Argument types of the management commands: a bad number is a usage error (a CommandError
when called from code), never a traceback from deep inside the command."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def _bounded(
    kind: Callable[[str], float], *, minimum: float, strict: bool
) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < minimum or (strict and value == minimum):
            relation = ">" if strict else ">="
            raise argparse.ArgumentTypeError(f"{text} must be {relation} {minimum:g}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    """`kind` (int or float) > 0."""
    return _bounded(kind, minimum=0, strict=True)


def non_negative(kind: Callable[[str], float]) -> Callable[[str], float]:
    """`kind` (int or float) >= 0."""
    return _bounded(kind, minimum=0, strict=False)
