"""The actor of the privacy golden project: an operator, known by name."""

from dataclasses import dataclass


@dataclass
class Operator:
    name: str
