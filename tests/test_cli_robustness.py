"""The command line under bad input, bad output paths and interruption (issue 13, items 3-5).

Every bad invocation gives exit code 2 and exactly one line on stderr, ``error: ...``, naming the
offending value; ``--out`` problems are found before any training; result directories are replaced
as a whole and never mixed; Ctrl-C exits with 130 and keeps the demo arms that had finished."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from eqlandscape.cli import main

TRAIN = ["train", "S3", "--students", "2", "--steps", "2"]


def _bad_invocations(tmp: Path) -> list[tuple[list[str], str]]:
    a_file = tmp / "a_file.txt"
    a_file.write_text("not a directory")
    foreign = tmp / "foreign"
    foreign.mkdir(exist_ok=True)
    (foreign / "notes.txt").write_text("mine")
    results = tmp / "results"
    results.mkdir(exist_ok=True)
    (results / "summary.json").write_text("{}")
    outs = [("''", ""), ("/dev/null/x", "/dev/null"), (str(a_file), "a_file.txt"), (str(foreign), "notes.txt")]
    cases: list[tuple[list[str], str]] = [
        # group
        (["group", "Q8"], "Q8"),
        (["group", "S03"], "S03"),
        (["group", "S5x"], "S5x"),
        (["group", "xS3"], "xS3"),
        (["group", "S0"], "S0"),
        (["group", "D2"], "D2"),
        (["group", "C0"], "C0"),
        (["group", "K5"], "K5"),
        (["group", ""], "''"),
        (["group", "S3", "--jsn"], "--jsn"),
        # basis
        (["basis", "S3", "nat", "natural"], "nat"),
        (["basis", "S3", "natural", "S3/C9"], "C9"),
        (["basis", "S3", "-2*natural", "natural"], "-2*natural"),
        (["basis", "S3", "0*natural", "natural"], "0*natural"),
        (["basis", "S3", "natural ++ trivial", "natural"], "natural ++ trivial"),
        (["basis", "Q8", "natural", "natural"], "Q8"),
        (["basis", "S3", "natural"], "rep_out"),
        (["basis", "S3", "natural", "S4/C2"], "S4"),
        (["basis", "S3", "natural", "natural^"], "natural^"),
        (["basis", "S3", "natural", "natural*"], "natural*"),
        # barriers
        (["barriers", "Q8"], "Q8"),
        (["barriers", "S3", "--reps", "natural"], "natural"),
        (["barriers", "S3", "--reps", "natural -> nat"], "nat"),
        (["barriers", "S3", "--reps", "natural -> -> trivial"], "natural -> -> trivial"),
        (["barriers", "S3", "--reps", "natural -> S3/C7 -> trivial"], "C7"),
        (["barriers", "S3", "--reps", ""], "''"),
        (["barriers", "S3", "--foo"], "--foo"),
        (["barriers"], "GROUP"),
        # atlas
        (["atlas", "--max-order", "0"], "max_order=0"),
        (["atlas", "--max-order", "-3"], "-3"),
        (["atlas", "--max-order", "abc"], "abc"),
        (["atlas", "--max-order", "4", "--input", "nat"], "nat"),
        (["atlas", "--max-order", "4", "--output", "S3/C2"], "S3/C2"),
        (["atlas", "--max-order", "4", "--input", ""], "''"),
        (["atlas", "--max-order", "1.5"], "1.5"),
        # demo
        (["demo", "--students", "0"], "students"),
        (["demo", "--steps", "-3"], "-3"),
        (["demo", "--seed", "-1"], "seed"),
        (["demo", "--students", "abc"], "abc"),
        (["demo", "--foo"], "--foo"),
        (["demo", "--out", str(results)], "--force"),
        # train
        ([*TRAIN, "--students", "0"], "n_models=0"),
        (["train", "S3", "--steps", "0"], "steps=0"),
        ([*TRAIN, "--lr", "-1"], "lr=-1"),
        ([*TRAIN, "--lr", "0"], "lr=0"),
        ([*TRAIN, "--lr", "nan"], "lr=nan"),
        ([*TRAIN, "--optimizer", "rmsprop"], "rmsprop"),
        ([*TRAIN, "--strategy", "annealed"], "annealed"),
        ([*TRAIN, "--parametrization", "foo"], "foo"),
        ([*TRAIN, "--strategy", "free", "--parametrization", "orbit"], "--parametrization orbit"),
        ([*TRAIN, "--switch-step", "5"], "--switch-step 5"),
        ([*TRAIN, "--gamma", "1"], "--gamma 1"),
        ([*TRAIN, "--strategy", "free", "--samples", "2"], "--samples 2"),
        ([*TRAIN, "--strategy", "augmented", "--samples", "0"], "samples=0"),
        ([*TRAIN, "--strategy", "relaxed", "--switch-step", "-1"], "switch_step=-1"),
        ([*TRAIN, "--teacher-seed", "-1"], "-1"),
        ([*TRAIN, "--teacher-seed", str(2**64)], str(2**64)),
        ([*TRAIN, "--data-seed", "-5"], "-5"),
        ([*TRAIN, "--seed", "-1"], "first_seed=-1"),
        ([*TRAIN, "--seed", str(2**63 - 1)], str(2**63 - 1)),
        ([*TRAIN, "--teacher-weights", "planar"], "planar"),
        ([*TRAIN, "--teacher-weights", "plane", "--teacher", "natural -> regular -> trivial"], "regular"),
        ([*TRAIN, "--teacher-a", "2"], "--teacher-a"),
        ([*TRAIN, "--activation", "swish"], "swish"),
        ([*TRAIN, "--dtype", "float16"], "float16"),
        ([*TRAIN, "--device", "tpu"], "tpu"),
        ([*TRAIN, "--n-train", "0"], "n_train"),
        ([*TRAIN, "--noise", "-1"], "noise"),
        ([*TRAIN, "--student", "natural -> natural -> 2*trivial"], "2*trivial"),
        ([*TRAIN, "--teacher", "natural"], "natural"),
        (["train", "Q8"], "Q8"),
        (["train"], "GROUP"),
        (["frobnicate"], "frobnicate"),
        ([], "no command"),
    ]
    for shown, needle in outs:
        path = "" if shown == "''" else shown
        cases.append((["demo", "--out", path], needle))
        cases.append(([*TRAIN, "--out", path], needle))
    return cases


def test_at_least_sixty_bad_invocations_each_exit_2_with_one_line(tmp_path, capsys) -> None:
    cases = _bad_invocations(tmp_path)
    assert len(cases) >= 60
    assert {c[0][0] for c in cases if c[0]} == {"group", "basis", "barriers", "atlas", "demo", "train", "frobnicate"}
    failures = []
    for argv, needle in cases:
        start = time.perf_counter()
        code = main(argv)
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        ok = code == 2 and len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0]
        ok = ok and "Traceback" not in captured.err + captured.out
        ok = ok and time.perf_counter() - start < 10  # found before any training
        if not ok:
            failures.append((argv, code, captured.err.strip()))
    assert not failures, "\n".join(map(str, failures))


def test_results_are_replaced_as_a_whole_and_written_0644(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main([*TRAIN, "--out", str(out)]) == 0
    first = json.loads((out / "summary.json").read_text())
    assert main([*TRAIN, "--out", str(out)]) == 2  # results there: refused without --force
    assert main([*TRAIN, "--seed", "5", "--out", str(out), "--force"]) == 0
    second = json.loads((out / "summary.json").read_text())
    assert first["config"]["first_seed"] == 0 and second["config"]["first_seed"] == 5
    assert "5" in (out / "students.csv").read_text().splitlines()[1].split(",")[0]
    old_umask = os.umask(0o022)
    os.umask(old_umask)
    for f in out.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~old_umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary directories left
    capsys.readouterr()


def test_train_without_out_says_nothing_was_saved(capsys) -> None:
    assert main(TRAIN) == 0
    assert "nothing was saved" in capsys.readouterr().out.strip().splitlines()[-1]


def test_sigint_keeps_finished_demo_arms(tmp_path) -> None:
    """A real SIGINT to a running demo: status 130, one line on stderr, the finished arms kept and
    marked partial, no temporary files."""
    out = tmp_path / "demo"
    code = "from eqlandscape.cli import run; run()"
    argv = [sys.executable, "-c", code, "demo", "--students", "16", "--steps", "3000", "--out", str(out)]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lines = []
    assert proc.stderr is not None
    for line in proc.stderr:
        lines.append(line)
        if "trained" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(lines) + rest
    errors = [x for x in rest.strip().splitlines() if x.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: interrupted"), rest
    summary = json.loads((out / "summary.json").read_text())
    assert summary["partial"] is True and 1 <= len(summary["arms_finished"]) < 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_every_output_column_and_key_is_documented(tmp_path, capsys) -> None:
    from test_readme import documented_names

    out = tmp_path / "run"
    assert main([*TRAIN, "--out", str(out)]) == 0
    capsys.readouterr()
    names = documented_names()
    columns = (out / "students.csv").read_text().splitlines()[0].split(",")
    assert set(columns) <= names, set(columns) - names
