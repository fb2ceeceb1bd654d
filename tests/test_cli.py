"""The command line: --json output agrees with the Python API; bad input exits 2 with one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from eqlandscape.cli import main
from eqlandscape.equivariant import burnside_dim, equivariant_basis
from eqlandscape.groups import group_from_name
from eqlandscape.reps import parse_rep


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", ["S3", "D4", "A4", "S4", "K4", "S3xC2"])
def test_group_json_agrees_with_api(capsys: pytest.CaptureFixture[str], name: str) -> None:
    G = group_from_name(name)
    s = run_json(capsys, "group", name)
    assert s["order"] == G.order and s["degree"] == G.degree
    assert [c["size"] for c in s["conjugacy_classes"]] == [len(c) for c in G.conjugacy_classes]
    assert [c["label"] for c in s["subgroup_classes"]] == [c.label for c in G.subgroup_classes]
    assert s["subgroups"] == len(G.subgroups())
    assert [t["degree"] for t in s["transitive_reps"]] == [c.index for c in G.subgroup_classes]
    for t in s["transitive_reps"]:  # every printed spec parses back to a transitive rep of that degree
        rep = parse_rep(G, t["spec"])
        assert rep.size == t["degree"] and len(rep.orbits) == 1


def test_basis_json_agrees_with_api(capsys: pytest.CaptureFixture[str]) -> None:
    G = group_from_name("S4")
    for sc in G.subgroup_classes:
        spec = f"S4/{sc.label}"
        s = run_json(capsys, "basis", "S4", "natural", spec)
        rep_in, rep_out = parse_rep(G, "natural"), parse_rep(G, spec)
        B = equivariant_basis(rep_in, rep_out)
        assert s["dim"] == B.dim == s["burnside_dim"] == burnside_dim(rep_in, rep_out)
        assert s["orbit_sizes"] == B.sizes.tolist()
        assert s["shape"] == [sc.index, 4]


def test_human_output_mentions_the_facts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["group", "S4"]) == 0
    out = capsys.readouterr().out
    assert "order 24" in out and "30 subgroups in 11 conjugacy classes" in out
    assert main(["basis", "S3", "natural", "natural"]) == 0
    assert "dimension 2" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["group", "Q9"], "Q9"),
        (["group", "D2"], "D2"),
        (["basis", "S3", "natral", "natural"], "natral"),
        (["basis", "S4", "natural", "S4/Z7"], "Z7"),
        (["basis", "S3", "natural", "S4/C2"], "S4"),
        (["group"], "name"),
    ],
)
def test_bad_input_one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), captured.err
    assert needle in lines[0]
    assert "Traceback" not in captured.err + captured.out


def test_console_script_exit_code_and_stderr() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from eqlandscape.cli import run; run()", "group", "X7"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "X7" in proc.stderr
    assert "Traceback" not in proc.stderr
