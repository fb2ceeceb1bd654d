"""Exact slices by the piecewise-quadratic structure (``landscape/piecewise.py``, docs/design.md section 4).

Oracle: the loss at every grid point by a forward pass written here in NumPy (float64), for random
one-hidden-layer networks, directions, data and grids, including the degenerate cases: units that the
column direction does not move (``Q = 0``), breakpoints exactly on grid values, zero outgoing weights,
unsorted and unevenly spaced columns, one row."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eqlandscape.landscape import coefficient_slice, filter_normalized_directions, loss_slice, piecewise, slices
from eqlandscape.nn import MLPArchitecture
from eqlandscape.nn.functional import ACTIVATION_FUNCTIONS, register_activation
from eqlandscape.reps import parse_rep
from eqlandscape.tasks import demo_task

SLOPES = {"relu": (0.0, 1.0), "identity": (1.0, 1.0), "leaky 0.1": (0.1, 1.0), "slopes -0.5, 2": (-0.5, 2.0)}


@contextmanager
def _registered(name: str):
    """``name`` of :data:`SLOPES` known as an activation while inside (the registry left as it was)."""
    if name in ACTIVATION_FUNCTIONS:
        yield
        return
    neg, pos = SLOPES[name]
    register_activation(name, lambda z: torch.where(z > 0, pos * z, neg * z), slopes=(neg, pos))
    try:
        yield
    finally:
        del ACTIVATION_FUNCTIONS[name]


def _direct(W, b, V, c, Da, ea, Db, eb, x, y, rows, columns, slopes) -> np.ndarray:
    """The mean squared error at every grid point, one point at a time."""
    neg, pos = slopes
    out = np.empty((len(rows), len(columns)))
    for i, a in enumerate(rows):
        for j, t in enumerate(columns):
            z = x @ (W + a * Da + t * Db).T + (b + a * ea + t * eb)
            h = np.where(z > 0, pos * z, neg * z)
            out[i, j] = np.mean((h @ V.T + c - y) ** 2)
    return out


@st.composite
def _problems(draw):
    H, I, O = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    n = draw(st.integers(1, 30))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    integer = draw(st.booleans())  # small integers: breakpoints land exactly on grid values
    draw_ = (lambda *s: rng.integers(-2, 3, size=s).astype(float)) if integer else (lambda *s: rng.standard_normal(s))
    W, b, V, c = draw_(H, I), draw_(H), draw_(O, H), draw_(O)
    Da, ea, Db, eb = draw_(H, I), draw_(H), draw_(H, I), draw_(H)
    if draw(st.booleans()):  # the column direction leaves some units alone: Q = 0 for them
        Db[: max(1, H // 2)] = 0.0
        eb[: max(1, H // 2)] = 0.0
    if draw(st.booleans()):
        V[:, 0] = 0.0
    x, y = draw_(n, I), draw_(n, O)
    kind = draw(st.sampled_from(["even", "uneven", "unsorted"]))
    m = draw(st.integers(2, 12))
    columns = np.linspace(-2.0, 2.0, m) if integer or kind == "even" else np.sort(rng.uniform(-2, 2, m))
    if kind == "unsorted":
        columns = rng.permutation(columns)
    rows = np.linspace(-1.0, 1.0, draw(st.integers(1, 6)))
    activation = draw(st.sampled_from(sorted(SLOPES)))
    return W, b, V, c, Da, ea, Db, eb, x, y, rows, columns, activation


@settings(max_examples=150, deadline=None)
@given(_problems())
def test_slice_losses_equal_a_point_by_point_evaluation(problem) -> None:
    W, b, V, c, Da, ea, Db, eb, x, y, rows, columns, activation = problem
    T = torch.as_tensor
    with _registered(activation):
        loss = piecewise.slice_losses(
            (T(W), T(b)), (T(V), T(c)), (T(Da), T(ea)), (T(Db), T(eb)), T(x), T(y), rows, columns, activation
        )
    expected = _direct(W, b, V, c, Da, ea, Db, eb, x, y, rows, columns, SLOPES[activation])
    assert loss.shape == expected.shape
    # within the relative tolerance of the sums (points past it are evaluated directly), and a few
    # roundings of the oracle's own
    np.testing.assert_allclose(loss, expected, rtol=piecewise.RTOL, atol=1e-13)


def test_a_breakpoint_on_a_grid_value_takes_either_side() -> None:
    # z = x (w + b) with x = 1: the kink is at b = -w = 0.5, a grid value; relu(0) is 0 from both sides.
    T = torch.tensor
    one, zero = T([[1.0]], dtype=torch.float64), T([0.0], dtype=torch.float64)
    columns = np.linspace(0.0, 1.0, 5)
    for w in (-0.5, 0.5):
        loss = piecewise.slice_losses(
            (T([[w]], dtype=torch.float64), zero),
            (one, zero),
            (0 * one, zero),
            (one if w < 0 else -one, zero),
            one,
            T([[0.0]], dtype=torch.float64),
            np.zeros(1),
            columns,
            "relu",
        )
        z = w + columns * (1 if w < 0 else -1)
        np.testing.assert_allclose(loss[0], np.maximum(z, 0) ** 2, atol=1e-15)


@pytest.fixture(scope="module")
def demo():
    task = demo_task(n_train=128, n_test=16)
    return task, task.arch, [t.detach().numpy() for t in task.teacher.full()]


def test_loss_slice_takes_the_exact_path_when_it_applies_and_agrees_with_the_batched_one(demo, monkeypatch) -> None:
    task, arch, teacher = demo
    axes = [np.linspace(-1.5, 1.5, 21), np.linspace(-1.0, 2.0, 17)]
    calls = []
    original = slices._piecewise

    def counted(*args):
        out = original(*args)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(slices, "_piecewise", counted)
    exact = coefficient_slice(arch, teacher, ["W0[0,0]", "W0[0,1]"], task.x_train, task.y_train, axes)
    first_layer = filter_normalized_directions(arch, teacher, 2, seed=3)
    first_layer[:, 9:] = 0.0
    exact_random = loss_slice(arch, teacher, first_layer, task.x_train, task.y_train, axes)
    exact_line = loss_slice(arch, teacher, first_layer[:1], task.x_train, task.y_train, axes[:1])
    both_layers = filter_normalized_directions(arch, teacher, 2, seed=3)
    batched_both = loss_slice(arch, teacher, both_layers, task.x_train, task.y_train, axes)
    assert calls == [True, True, True, False]
    monkeypatch.setattr(slices, "_piecewise", lambda *args: None)
    for result, directions in ((exact, exact.directions), (exact_random, first_layer), (exact_line, first_layer[:1])):
        batched = loss_slice(
            arch,
            [np.asarray(t) for t in slices._unflat(arch, result.origin[None])],
            directions,
            task.x_train,
            task.y_train,
            result.axes,
        )
        np.testing.assert_allclose(result.loss, batched.loss, rtol=1e-9, atol=1e-14)
    assert batched_both.loss.shape == (21, 17)


def test_teacher_point_is_exact_through_its_direct_evaluation(demo) -> None:
    task, arch, teacher = demo
    axis = np.round(np.linspace(-1.5, 1.5, 31), 10)  # contains the teacher's 1.0 and -0.2
    s = coefficient_slice(arch, teacher, ["W0[0,0]", "W0[0,1]"], task.x_train, task.y_train, [axis, axis])
    i, j = int(np.argmin(abs(axis - 1.0))), int(np.argmin(abs(axis + 0.2)))
    assert s.loss[i, j] < 1e-20  # a cumulative sum alone leaves about 1e-15 here


def test_other_networks_and_activations_take_the_batched_path(demo) -> None:
    task, _, _ = demo
    rep = parse_rep("S3", "natural")
    for arch in (
        MLPArchitecture((rep, rep, rep, parse_rep("S3", "trivial")), "relu", False),
        MLPArchitecture((rep, rep, parse_rep("S3", "trivial")), "tanh", False),
    ):
        P = sum(int(np.prod(s)) for s in arch.shapes)
        origin = [np.random.default_rng(0).standard_normal((1, *s)) for s in arch.shapes]
        d = np.zeros((1, P))
        d[0, :9] = 1.0
        o = slices._flat(origin)[0]
        x, y = task.x_train.double(), task.y_train.double()
        assert slices._piecewise(arch, o, d, x, y, (np.linspace(0, 1, 3),)) is None


def test_declared_slopes_match_the_activations() -> None:
    z = torch.linspace(-3, 3, 601, dtype=torch.float64)
    declared = {name: a.slopes for name, a in ACTIVATION_FUNCTIONS.items() if a.slopes is not None}
    assert set(declared) >= {"relu", "identity"}
    for name, (neg, pos) in declared.items():
        expected = torch.where(z < 0, neg * z, pos * z)
        torch.testing.assert_close(ACTIVATION_FUNCTIONS[name].forward(z, None), expected, rtol=0, atol=0)
