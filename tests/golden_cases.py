"""The projects whose generated trees are committed and compared byte for byte."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "accounts": ROOT / "examples" / "accounts",
    "alltypes": ROOT / "tests" / "golden" / "alltypes",
    "features": ROOT / "tests" / "golden" / "features",
    "minimal": ROOT / "tests" / "golden" / "minimal",
    "nested": ROOT / "tests" / "golden" / "nested",
    "partitioned": ROOT / "tests" / "golden" / "partitioned",
    "privacy": ROOT / "tests" / "golden" / "privacy",
    "upcasting": ROOT / "tests" / "golden" / "upcasting",
}
