"""README.md opens with the two commands a newcomer runs; CI runs the same install and test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block is not None, "README.md must open with a bash block of two commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_two_commands() -> None:
    cmds = readme_commands()
    assert len(cmds) == 2
    assert "pip install -e ." in cmds[0] and "eqlandscape" in cmds[0].split("&&")[-1]
    assert 'pip install -e ".[test]"' in cmds[1] and "pytest" in cmds[1]


def test_ci_runs_readme_install_and_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    install, test = [part.strip() for part in readme_commands()[1].split("&&")[-2:]]
    assert install in ci and test in ci


def documented_names() -> set[str]:
    """Names in backquotes in the first column of the tables of docs/outputs.md."""
    text = (ROOT / "docs" / "outputs.md").read_text()
    cells = [line.split("|")[1] for line in text.splitlines() if line.startswith("| `")]
    return {name for cell in cells for name in re.findall(r"`([^`]+)`", cell)}
