"""The run path reads straight (issue 12): what a grep can keep true."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "igflow"
STATUS_WORDS = (
    "ok|skipped|failed|expected-error|error-ignored|dry-run|done-earlier|in-doubt|not-run"
    "|passed|interrupted|applied|not-applied"
)
# `x == "ok"`, `status != "failed"`, `in ("failed", ...)`: a status compared as a bare string.
STRING_COMPARED = re.compile(rf"""(==|!=|\bin\b)\s*\(?\s*["']({STATUS_WORDS})["']""")


def sources(*, sandbox: bool = False) -> list[Path]:
    found = sorted(PACKAGE.rglob("*.py"))
    return [p for p in found if sandbox or "sandbox" not in p.relative_to(PACKAGE).parts]


def code_lines(path: Path) -> list[tuple[int, str]]:
    lines = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        lines.append((number, line.split("  #")[0]))
    return lines


def test_no_status_or_decision_is_compared_as_a_string() -> None:
    offending = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sources()
        for number, line in code_lines(path)
        if STRING_COMPARED.search(line) and '"""' not in line and "``" not in line
    ]
    assert offending == []


def test_no_module_imports_the_runner_for_its_result_types() -> None:
    importers = [
        str(path.relative_to(PACKAGE))
        for path in sources(sandbox=True)
        if re.search(
            r"from igflow\.runner import .*(Record|RunResult|Reporter|Status)", path.read_text()
        )
    ]
    assert importers == []


def test_cli_is_thin() -> None:
    assert len((PACKAGE / "cli.py").read_text(encoding="utf-8").splitlines()) < 400


def test_a_module_over_400_lines_says_why_at_its_top() -> None:
    import ast

    unexplained = []
    for path in sources(sandbox=True):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) <= 400:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if not any(word in doc for word in ("Length:", "over the 400", "400 lines")):
            unexplained.append(str(path.relative_to(PACKAGE)))
    assert unexplained == []


def test_every_error_class_lives_in_errors_py_and_in_its_tree() -> None:
    """One error tree: every IgflowError subclass is defined in errors.py and drawn there."""
    import ast

    errors_text = (PACKAGE / "errors.py").read_text(encoding="utf-8")
    tree_drawing = ast.get_docstring(ast.parse(errors_text)) or ""
    elsewhere = []
    for path in sources():
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ClassDef)
                and any(
                    isinstance(base, ast.Name) and base.id.endswith(("Error", "Failed", "Target"))
                    for base in node.bases
                )
                and not node.name.startswith("_")
            ):
                elsewhere.append(f"{path.relative_to(PACKAGE)}: {node.name}")
    assert elsewhere == []
    defined = [
        node.name
        for node in ast.walk(ast.parse(errors_text))
        if isinstance(node, ast.ClassDef)
        and node.name not in ("ExitCode", "SourceLocation", "Issue")
    ]
    undrawn = [name for name in defined if name not in tree_drawing]
    assert undrawn == []
