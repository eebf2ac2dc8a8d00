"""Measure check-infra's Bicep rules against the compiler's own test samples.

The Bicep repository (github.com/Azure/bicep, MIT) keeps, for each sample under
`src/Bicep.Core.Samples/Files/baselines/<name>/`, the source `main.bicep` and every
diagnostic the compiler gives it, `main.diagnostics.bicep` (each source line followed by
`//@[start:end) [BCPxxx (Error)] ...` lines). Nothing of it is copied into this repository:
the samples are read from a clone, at a pinned commit, with `git show`:

    git clone https://github.com/Azure/bicep /tmp/bicep   # or a bare mirror: git show works
    .venv/bin/python scripts/bench_bicep_samples.py /tmp/bicep

It runs what check-infra runs on each file's text with a compiler code (the lexer,
`bicep_lexer`, and the semantic rules, `bicep_semantics`) and prints:

- per code amlctl reproduces: the diagnostics the compiler gives, how many amlctl gives at
  the same line and column, and how many amlctl gives where the compiler gives none;
- overall: of the samples the compiler rejects (at least one Error expected), how many
  amlctl flags with at least one of the error codes the compiler gives there; of the
  samples with no expected error, how many amlctl flags at all (check-infra fails on a
  warning too) and how many with a diagnostic the compiler does not give there (a wrong
  flag), and the names.

- the user-submitted samples (`src/Bicep.Core.Samples/Files/user_submitted/*/*/main.bicep`,
  each compiled by the compiler's tests into the `main.json` beside it): how many amlctl
  flags at all (each a wrong flag).

With `--also REPO` (a clone of Azure/bicep-registry-modules, say), the same checks run over
every .bicep file of that repository, which the compiler builds: the files flagged with an
error, and with warnings only.

It asserts nothing; the figures go in amlctl's README.
"""

from __future__ import annotations

import argparse
import posixpath
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from amlctl.checks.bicep_lexer import lex
from amlctl.checks.bicep_modules import module_diagnostics
from amlctl.checks.bicep_semantics import WARNING_CODES, diagnostics

COMMIT = "9beb0fee60"  # Azure/bicep main, 2026-12 (the samples the README's figures are on)
BASELINES = "src/Bicep.Core.Samples/Files/baselines"
USER_SUBMITTED = "src/Bicep.Core.Samples/Files/user_submitted"
MESSAGE = re.compile(
    r"//@\[(\d+):\d+\) \[(BCP\d+) \((?:Error|Warning)\)\] (.*) "
    r"\(bicep https://aka\.ms/bicep/core-diagnostics#BCP\d+\) \|"
)
ANNOTATION = re.compile(r"//@\[(\d+):\d+\) \[([A-Za-z][\w-]*) \((Error|Warning|Info)\)\]")
CODES = {
    # lexical rules (bicep_lexer)
    "BCP001", "BCP002", "BCP003", "BCP004", "BCP005", "BCP006",
    "BCP024", "BCP103", "BCP133", "BCP140", "BCP226",
    # semantic rules (bicep_semantics, bicep_constants, bicep_declarations)
    "BCP019", "BCP028", "BCP033", "BCP057", "BCP065", "BCP070", "BCP071", "BCP112",
    "BCP120", "BCP122", "BCP124", "BCP139", "BCP145", "BCP177", "BCP178", "BCP182",
    "BCP318",
    # separators (bicep_separators)
    "BCP009", "BCP236", "BCP237", "BCP238",
    # module calls (bicep_modules)
    "BCP035", "BCP036", "BCP037", "BCP052", "BCP053", "BCP083", "BCP089",
}  # fmt: skip


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise SystemExit(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def expected(annotated: str) -> list[tuple[int, int, str, str]]:
    """(line, column, code, level) of the compiler's diagnostics; a line's notes follow it."""
    found, line = [], 0
    for text in annotated.splitlines():
        if text.startswith("//@["):
            match = ANNOTATION.match(text)
            if match:
                found.append((line, int(match.group(1)), match.group(2), match.group(3)))
        else:
            line += 1
    return found


def ours(source: str, load=lambda path: None, messages: dict | None = None):
    """(line, column, code) of each diagnostic amlctl gives; ``messages`` collects their
    messages by place."""
    found = [*lex(source).diagnostics, *diagnostics(source), *module_diagnostics(source, load)]
    places = []
    for item in found:
        place = (
            source.count("\n", 0, item.offset) + 1,
            item.offset - (source.rfind("\n", 0, item.offset) + 1),
            item.code,
        )
        places.append(place)
        if messages is not None:
            messages.setdefault(place, []).append(item.message)
    return places


def compiler_messages(annotated: str) -> dict[tuple[int, int, str], list[str]]:
    """The compiler's message of each diagnostic, by (line, column, code)."""
    found: dict[tuple[int, int, str], list[str]] = {}
    line = 0
    for text in annotated.splitlines():
        if text.startswith("//@["):
            match = MESSAGE.match(text)
            if match:
                place = (line, int(match.group(1)), match.group(2))
                found.setdefault(place, []).append(match.group(3))
        else:
            line += 1
    return found


def module_loader(repo: Path, commit: str, folder: str):
    """A sample's modules, read from the same commit (None: not in the repository)."""

    def load(path: str) -> str | None:
        target = posixpath.normpath(posixpath.join(folder, path))
        result = subprocess.run(
            ["git", "-C", str(repo), "show", f"{commit}:{target}"],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout if result.returncode == 0 else None

    return load


def valid_files(repo: Path, commit: str) -> tuple[list[str], list[str]]:
    """The user-submitted samples the compiler compiles (its test compares each main.json),
    and those amlctl flags with any diagnostic (each one a wrong flag)."""
    listed = git(repo, "ls-tree", "-r", "--name-only", commit, f"{USER_SUBMITTED}/").split("\n")
    present = set(listed)
    compiled = [
        path
        for path in listed
        if path.endswith("/main.bicep") and path[: -len(".bicep")] + ".json" in present
    ]
    flagged = []
    for path in compiled:
        folder = posixpath.dirname(path)
        source = git(repo, "show", f"{commit}:{path}").removeprefix("\ufeff")
        if ours(source, module_loader(repo, commit, folder)):
            flagged.append(path[len(USER_SUBMITTED) + 1 :])
    return compiled, flagged


def other_repository(repo: Path) -> None:
    """Every .bicep file of another repository at HEAD (modules read from the same commit):
    the files flagged with an error, and with warnings only, and the codes."""
    head = git(repo, "rev-parse", "HEAD").strip()
    paths = [p for p in git(repo, "ls-tree", "-r", "--name-only", head).split("\n")]
    paths = [p for p in paths if p.endswith(".bicep")]
    with_error, warned_only, codes = [], [], Counter()
    for path in paths:
        source = git(repo, "show", f"{head}:{path}").removeprefix("\ufeff")
        got = ours(source, module_loader(repo, head, posixpath.dirname(path)))
        codes.update(code for _line, _column, code in got)
        if any(code not in WARNING_CODES for _line, _column, code in got):
            with_error.append(path)
        elif got:
            warned_only.append(path)
    print(
        f"{repo} {head[:10]}: {len(paths)} .bicep files, flagged with an error: "
        f"{len(with_error)}, with warnings only: {len(warned_only)}; codes: {dict(codes)}"
    )
    for path in with_error:
        print(f"  error: {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bicep", type=Path, help="a clone of github.com/Azure/bicep")
    parser.add_argument("--commit", default=COMMIT, help=f"the samples' commit ({COMMIT})")
    parser.add_argument("--verbose", action="store_true", help="list every difference")
    parser.add_argument(
        "--also",
        type=Path,
        metavar="REPO",
        help="a clone of a repository of Bicep the compiler builds (Azure/bicep-registry-modules):"
        " count its files check-infra flags, by code, at its HEAD",
    )
    args = parser.parse_args(argv)
    commit = git(args.bicep, "rev-parse", "--verify", f"{args.commit}^{{commit}}").strip()
    names = [
        line.rsplit("/", 1)[-1]
        for line in git(args.bicep, "ls-tree", "--name-only", commit, f"{BASELINES}/").split()
    ]
    per_code: dict[str, Counter[str]] = {}
    worded: Counter[str] = Counter()
    error_samples, error_flagged, clean_samples, clean_flagged = [], [], [], []
    clean_wrong: list[str] = []
    for name in names:
        folder = f"{BASELINES}/{name}"
        try:
            source = git(args.bicep, "show", f"{commit}:{folder}/main.bicep")
            annotated = git(args.bicep, "show", f"{commit}:{folder}/main.diagnostics.bicep")
        except SystemExit:
            continue
        given = expected(annotated)
        want = [item[:3] for item in given if item[2] in CODES]
        said: dict = {}
        got = ours(source.removeprefix("\ufeff"), module_loader(args.bicep, commit, folder), said)
        theirs = compiler_messages(annotated)
        for place, texts in said.items():
            if place in theirs:
                for text in texts:
                    worded["same" if text in theirs[place] else "other"] += 1
        for item in want:
            per_code.setdefault(item[2], Counter())["expected"] += 1
            if item in got:
                per_code[item[2]]["same place"] += 1
        for item in got:
            if item not in want:
                per_code.setdefault(item[2], Counter())["not expected"] += 1
                if args.verbose:
                    print(f"  {name}:{item[0]}:{item[1]}: amlctl {item[2]}, compiler none there")
        if args.verbose:
            for item in want:
                if item not in got:
                    print(f"  {name}:{item[0]}:{item[1]}: compiler {item[2]}, amlctl none there")
        errors = {item[2] for item in given if item[3] == "Error"}
        if errors:
            error_samples.append(name)
            if errors & {item[2] for item in got}:
                error_flagged.append(name)
        else:
            clean_samples.append(name)
            if got:
                clean_flagged.append(name)
            if set(got) - set(want):
                clean_wrong.append(name)
    print(f"Azure/bicep {commit[:10]}: {len(names)} samples ({BASELINES})")
    print(f"{'code':8} {'compiler':>9} {'same place':>11} {'not expected':>13}")
    for code in sorted(per_code):
        counts = per_code[code]
        print(
            f"{code:8} {counts['expected']:>9} {counts['same place']:>11} "
            f"{counts['not expected']:>13}"
        )
    print(
        f"diagnostics at the compiler's place with the compiler's message: {worded['same']} of "
        f"{worded['same'] + worded['other']}"
    )
    share = 100 * len(error_flagged) / len(error_samples) if error_samples else 0.0
    print(
        f"samples the compiler rejects (an Error expected): {len(error_samples)}, flagged with "
        f"one of the compiler's error codes there: {len(error_flagged)} ({share:.0f} %)"
    )
    print(
        f"samples without an expected error: {len(clean_samples)}, flagged at all: "
        f"{len(clean_flagged)}, with a diagnostic the compiler does not give there: "
        f"{len(clean_wrong)}"
    )
    compiled, flagged_valid = valid_files(args.bicep, commit)
    print(
        f"{USER_SUBMITTED}: {len(compiled)} main.bicep the compiler compiles (main.json "
        f"beside), flagged at all: {len(flagged_valid)}"
    )
    for name in flagged_valid:
        print(f"  flagged: {name}")
    if args.also is not None:
        other_repository(args.also)
    missed = sorted(set(error_samples) - set(error_flagged))
    if missed:
        print("error samples not flagged: " + ", ".join(missed))
    if clean_flagged:
        print("clean samples flagged: " + ", ".join(clean_flagged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
