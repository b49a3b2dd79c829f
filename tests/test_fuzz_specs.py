"""Fuzzed specs: a located error or valid generated code, never a traceback, never a hang.

Mutants of the committed valid projects (see tests/spec_fuzz.py) go through what `eventspec
validate` and `eventspec generate` do; some through the CLI itself. A valid mutant's code must
compile; a sample of them is imported, creates its tables on SQLite and runs its alembic
migrations, in a child process. The fast profile runs in `make test`; `make fuzz` runs the long
one (``-m fuzz``: three shards of 3,400 mutants; EVENTSPEC_FUZZ_EXAMPLES sets the count per shard).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.spec_fuzz import (
    KNOWN_GAPS,
    Mutant,
    Outcome,
    RuleBroken,
    check_imports,
    failure_signature,
    mutants,
    prepare_for_import,
    run_mutant,
)

GAPS = frozenset(KNOWN_GAPS)


@dataclass
class Survey:
    """What a run saw: outcomes by kind, failures by signature with one reproducer each."""

    import_every: int  # import-check every n-th valid mutant
    migrate_every: int  # of those, migrate every n-th
    cli_every: int = 15
    count: int = 0
    valid: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    failures: dict[str, list[str]] = field(default_factory=dict)
    pending: list[tuple[Path, str, bool, str]] = field(default_factory=list)
    imported: int = 0
    migrated: int = 0
    folders: list[Path] = field(default_factory=list)

    def run(self, mutant: Mutant) -> None:
        self.count += 1
        progress = os.environ.get("EVENTSPEC_FUZZ_PROGRESS")  # a file to follow a long run by
        if progress and self.count % 100 == 0:
            with open(progress, "a", encoding="utf-8") as handle:
                handle.write(f"{os.getpid()} {self.count} mutants, {self.failed} failures\n")
        folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
        keep = False
        try:
            mutant.write(folder)
            outcome = run_mutant(folder, cli=self.count % self.cli_every == 0)
            keep = self._record(folder, mutant, outcome)
        except Exception as error:  # every exception is a finding: a traceback or a hang
            self.fail(failure_signature(error), mutant, repr(error)[:500])
        finally:
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)

    def _record(self, folder: Path, mutant: Mutant, outcome: Outcome) -> bool:
        if outcome.diagnostics:
            self.codes.update({line.split(": ")[1].split()[0] for line in outcome.diagnostics})
            return False
        self.valid += 1
        if self.valid % self.import_every or outcome.package is None:
            return False
        if not prepare_for_import(folder, outcome):
            return False
        migrate = (self.valid // self.import_every) % self.migrate_every == 0
        self.pending.append((folder, outcome.package, migrate, mutant.describe()))
        self.folders.append(folder)
        if len(self.pending) >= 20:
            self.flush()
        return True

    def flush(self) -> None:
        jobs, self.pending = self.pending, []
        reports = check_imports([(root, package, migrate) for root, package, migrate, _ in jobs])
        for root, _package, migrate, description in jobs:
            self.imported += 1
            self.migrated += migrate
            report = reports.get(root)
            if report is not None:
                last = report.strip().splitlines()[-1]
                self.fail(f"import check: {last[:120]}", None, f"{description}\n{report[-3000:]}")
        for folder in self.folders:
            shutil.rmtree(folder, ignore_errors=True)
        self.folders = []

    def fail(self, signature: str, mutant: Mutant | None, detail: str) -> None:
        text = f"{mutant.describe()}\n  {detail}" if mutant is not None else detail
        self.failures.setdefault(signature, []).append(text)
        progress = os.environ.get("EVENTSPEC_FUZZ_PROGRESS")
        if progress:
            with open(progress, "a", encoding="utf-8") as handle:
                handle.write(f"{os.getpid()} FAILURE {signature}\n  {text[:3000]}\n")

    def summary(self) -> str:
        lines = [
            f"{self.count} mutants: {self.count - self.valid - self.failed} refused with a"
            f" located diagnostic, {self.valid} generated code that compiles; {self.imported}"
            f" imported and created their tables, {self.migrated} migrated; {self.failed}"
            " failures",
            "codes: " + ", ".join(f"{code} {n}" for code, n in sorted(self.codes.items())),
        ]
        for signature, cases in sorted(self.failures.items()):
            lines.append(f"{len(cases)} x {signature}\n  first: {cases[0]}")
        return "\n".join(lines)

    @property
    def failed(self) -> int:
        return sum(len(cases) for cases in self.failures.values())


def _survey(examples: int, survey: Survey, *, derandomize: bool) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=derandomize,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutants(GAPS))
    def explore(mutant: Mutant) -> None:
        survey.run(mutant)

    explore()
    survey.flush()


def test_fast_profile_mutants_get_a_located_error_or_working_code() -> None:
    survey = Survey(import_every=3, migrate_every=1)
    _survey(20, survey, derandomize=True)  # the same mutants every run: a failure is a finding
    assert not survey.failures, survey.summary()
    assert survey.count >= 20
    # the rule was exercised both ways, and the sample really imported and migrated
    assert survey.valid and survey.count - survey.valid > 0, survey.summary()


def test_a_valid_mutant_is_imported_migrated_and_an_invalid_one_located() -> None:
    """The checks themselves: an unmutated seed passes them all, a broken one fails them."""
    from tests.spec_fuzz import SEEDS

    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        Mutant("minimal", dict(SEEDS["minimal"])).write(root)
        outcome = run_mutant(root, cli=True)
        assert outcome.diagnostics == [] and outcome.package == "minimal_data"
        assert prepare_for_import(root, outcome)
        assert check_imports([(root, "minimal_data", True)]) == {}
        models = root / "minimal_data" / "models.py"
        models.write_text(models.read_text() + "\nraise RuntimeError('broken on import')\n")
        [report] = check_imports([(root, "minimal_data", False)]).values()
        assert "RuntimeError: broken on import" in report
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        files = dict(SEEDS["minimal"])
        files["specs/author.yaml"] = "kind: resource\nname: [\n"
        Mutant("minimal", files).write(root)
        [diagnostic] = run_mutant(root, cli=True).diagnostics
        assert diagnostic.startswith("specs/author.yaml:3:1: ES001 ")
    with pytest.raises(RuleBroken):
        from tests.spec_fuzz import _check_located

        _check_located(Path("."), ["Traceback (most recent call last):"])


@pytest.mark.fuzz
@pytest.mark.parametrize("shard", [0, 1, 2])
def test_long_profile(shard: int) -> None:
    examples = int(os.environ.get("EVENTSPEC_FUZZ_EXAMPLES", "3400"))
    survey = Survey(import_every=10, migrate_every=3)
    _survey(examples, survey, derandomize=False)
    print(f"\nshard {shard}: {survey.summary()}")
    assert not survey.failures, survey.summary()
