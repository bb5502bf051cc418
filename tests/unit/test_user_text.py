"""Text a user reads explains itself: no citations of the project's internal documents.

Messages, log lines, CLI help and output, the README and the example configuration must
not send the reader to "spec 2.1", "contract section 12", "D5" or a source tag such as
"3P-GUIDE": users do not have those documents. Comments and docstrings (read by
developers, next to the code) may cite them. Every string literal of the shipped packages
is checked, so a new message cannot bring a citation back.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CITATION = re.compile(
    r"\b(spec|contract)(\s+sections?)?\s+\d+(\.\d+)*"
    r"|\bD\d{1,2}\b"
    r"|\b3P-[A-Z]+"
    r"|\[(INFERRED|CONFLICT|UNKNOWN)\]"
    r"|upstream-review|openalgo-contract\.md|mstock-typeb-api\.md",
    re.IGNORECASE,
)
# Strings that are data for maintainers and never reach a user: the provenance recorded
# beside each index token (IndexEntry.source is neither stored, logged nor printed).
EXEMPT = {Path("broker/mstock/database/index_tokens.py")}


def _docstring_ids(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def citations_in_strings(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstring_ids(tree)
    return [
        f"{path.relative_to(root)}:{node.lineno}: {node.value.strip()[:100]!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        and CITATION.search(node.value)
    ]


@pytest.mark.parametrize("package", ["broker/mstock", "mstock_tools"])
def test_no_string_literal_cites_internal_documents(package):
    found = [
        hit
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.relative_to(ROOT) not in EXEMPT
        for hit in citations_in_strings(path)
    ]
    assert found == []


@pytest.mark.parametrize("name", ["README.md", ".env.example", "CHANGELOG.md"])
def test_documents_for_users_cite_nothing_internal(name):
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    assert [f"{name}:{i}: {line}" for i, line in enumerate(lines, 1) if CITATION.search(line)] == []


def test_the_scanner_finds_what_it_should(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""Docstrings may cite spec 2.1."""\n'
                      'def f(wait):\n'
                      '    """So may this one (contract 12)."""\n'
                      '    # comments too: D5\n'
                      '    raise ValueError(f"client-side rate limit (spec 2.1): next slot in {wait}s")\n',
                      encoding="utf-8")
    assert citations_in_strings(sample, tmp_path) == ["sample.py:5: 'client-side rate limit (spec 2.1): next slot in'"]
