"""Exact loss slices of one-hidden-layer networks with a piecewise-linear activation, by their
piecewise-quadratic structure (docs/design.md section 4, "Slices of piecewise-linear networks").

The network is ``f(x) = V act(W x + b) + c`` (``W`` ``(H, I)``, ``V`` ``(O, H)``, samples as rows) with
``act(z) = s_- z`` for ``z < 0`` and ``s_+ z`` for ``z > 0`` (ReLU: ``(0, 1)``), the loss the mean squared
error ``(1/(n O)) sum_{s,o} (f(x_s)_o - y_{s,o})^2``, and the slice moves the first layer only:
``W = W_0 + a D_a + b D_b``, ``b = b_0 + a e_a + b e_b`` over a grid of ``a`` (rows) and ``b`` (columns).
The pre-activations are affine in the grid coordinates, ``z(a, b) = P(a) + b Q`` with ``P(a) = Z_0 + a Z_a``
and ``Q = Z_b`` (``Z_0 = x W_0^T + b_0``, ``Z_a = x D_a^T + e_a``, ``Z_b = x D_b^T + e_b``, each ``(n, H)``).
Along a row, hidden unit ``j`` of sample ``s`` changes slope once, where ``b`` crosses ``-P_sj / Q_sj``, so
the sample's output is linear in ``b`` between at most ``H`` breakpoints and its squared error a quadratic
``q_0 + q_1 b + q_2 b^2`` there. The row's loss at every grid column is the sum of the quadratics of the
segments the column lies in: each sample adds its segments' changes of ``(q_0, q_1, q_2)`` at the columns
where they start, and one cumulative sum along the row gives every column's coefficients. That costs
``O(n H (H + O))`` per row, where evaluating the network costs ``O(n H (I + O))`` per grid point.

The rounding error of those sums is bounded per grid point; the few points where the bound exceeds a
relative tolerance (those next to an exact zero of the loss) are evaluated directly.
"""

from __future__ import annotations

import threading

import numpy as np
import torch

from eqlandscape.nn.functional import ACTIVATION_FUNCTIONS, Workspace, loss_t

Tensor = torch.Tensor

CHUNK_FLOATS = 2**16
"""Floats of one ``(H, O, rows, n)`` intermediate per chunk of grid rows (512 KiB in float64): the chunk's
dozen or so buffers stay in the last-level cache; smaller chunks cost more in per-operation overhead."""

RTOL = 1e-9
"""Grid points whose rounding-error bound exceeds this fraction of their loss are evaluated directly."""


def slice_losses(
    first: tuple[Tensor, Tensor],
    second: tuple[Tensor, Tensor],
    row_direction: tuple[Tensor, Tensor],
    column_direction: tuple[Tensor, Tensor],
    x: Tensor,
    y: Tensor,
    rows: np.ndarray,
    columns: np.ndarray,
    activation: str,
    workspace: Workspace | None = None,
) -> np.ndarray:
    """The mean squared error on the grid ``rows x columns``, ``(len(rows), len(columns))``.

    ``first = (W_0, b_0)`` (``(H, I)``, ``(H,)``) and ``second = (V, c)`` (``(O, H)``, ``(O,)``) are the
    network at grid coordinates 0 (zero biases for a network without them), ``row_direction = (D_a, e_a)``
    and ``column_direction = (D_b, e_b)`` the moves of the first layer along ``a`` (rows) and ``b``
    (columns); ``x`` ``(n, I)`` and ``y`` ``(n, O)`` float64; the columns need not be sorted; ``activation``
    a registered one with :attr:`~eqlandscape.nn.functional.Activation.slopes`. A point whose bound on the
    rounding error of the sums exceeds :data:`RTOL` times its value is evaluated directly
    (:func:`~eqlandscape.nn.functional.loss_t`). The intermediates live in ``workspace``, reused from chunk
    to chunk of rows; by default this thread's, kept between calls (:func:`_workspace`)."""
    (W0, b0), (V, c), (Da, ea), (Db, eb) = first, second, row_direction, column_direction
    dtype = x.dtype
    neg, pos = (torch.tensor(float(s), dtype=dtype) for s in ACTIVATION_FUNCTIONS[activation].slopes)
    n, O = y.shape
    H = W0.shape[0]
    order = np.argsort(columns, kind="stable")
    grid = torch.as_tensor(columns[order], dtype=dtype)  # sorted columns
    m = grid.numel()
    # Units H and outputs O lead, samples last: every pass runs over long contiguous rows, and sums over
    # units or outputs add whole slices.
    Z0, Za, Q = (M @ x.T + e[:, None] for M, e in ((W0, b0), (Da, ea), (Db, eb)))  # (H, n)
    Q = Q[:, None]  # (H, 1, n), the same on every row
    # Unit j of a sample switches at the first column k with grid[k] > -P/Q: a rising unit (Q > 0) is on
    # from column k on, a falling one (Q < 0) before it. A unit with Q = 0 is on along the whole row when
    # P > 0 and off when P < 0: as a rising unit with -P/Q taken as -P * inf. (At a column within rounding
    # of -P/Q the unit's input is within rounding of 0, where both slopes give the same value.)
    rising = Q >= 0
    locate = _locator(columns[order], torch.where(Q == 0, -_HUGE, -1.0 / torch.where(Q == 0, 1.0, Q)))
    jump = torch.where(rising, pos - neg, neg - pos)  # slope after a switch minus before
    first_slope, flip = torch.where(rising, pos, neg), -jump  # the slope at column 0: first_slope + up flip
    target = (y.T - c[:, None])[:, None]  # (O, 1, n)
    outgoing = V.T.reshape(H, O, 1, 1)  # unit j's outgoing weights
    powers = torch.stack([torch.ones_like(grid), grid, grid * grid])[:, None]  # (3, 1, m)
    a_all = torch.as_tensor(rows, dtype=dtype)
    loss = torch.empty(rows.size, m, dtype=dtype)
    size = torch.empty(3, rows.size, dtype=dtype)
    # Rows a chunk at a time, in buffers reused from chunk to chunk: fresh memory for each intermediate
    # costs more in page faults than the arithmetic.
    step = max(1, CHUNK_FLOATS // (n * H * O))
    ws = _workspace() if workspace is None else workspace
    longs = torch.empty(0, dtype=torch.int64)
    offsets = torch.arange(0, min(step, rows.size) * (m + 1), m + 1, dtype=dtype)[:, None]  # each row's first slot
    for start in range(0, rows.size, step):
        a = a_all[start : start + step]
        R = a.numel()
        shape = (H, R, n)
        P = torch.addcmul(Z0[:, None], a[:, None], Za[:, None], out=ws.get("P", shape, x))
        k = locate(P, ws.get("k", shape, x), ws.get("t", shape, longs))  # integral floats
        up = torch.clamp(k, max=1.0, out=ws.get("up", shape, x))  # 1 where the unit switches past column 0
        slope = torch.addcmul(first_slope, up, flip, out=ws.get("slope", shape, x))  # at column 0
        # The slope's change at the switch; a switch at column m (none on the row) lands in a discarded slot.
        change = torch.mul(up, jump, out=ws.get("change", shape, x))
        # The residual at column 0, r + b s (each (O, R, n)), and its change at each unit's switch,
        # dr + b ds (each (H, O, R, n)).
        h = torch.mul(slope, P, out=ws.get("t", shape, x))
        RS = ws.get("RS", (2, O, R, n), x)  # (r, s)
        torch.mm(V, h.view(H, -1), out=RS[0].view(O, -1))
        RS[0] -= target
        torch.mm(V, slope.mul_(Q).view(H, -1), out=RS[1].view(O, -1))
        D = ws.get("D", (H, 2, O, R, n), x)  # (dr, ds) of each unit
        dr = torch.mul(outgoing, change[:, None], out=D[:, 0])
        ds = torch.mul(dr, Q[:, None], out=D[:, 1])
        dr.mul_(P[:, None])
        # A switch changes the squared residual by the product of the change, dr + b ds, and the sum of
        # the residuals before and after it (a^2 - b^2 = (a - b)(a + b)), that is 2 (r + b s) + dr + b ds
        # plus twice the changes of the units that switch first: u + b v.
        U = torch.add(D, RS, alpha=2, out=ws.get("U", (H, 2, O, R, n), x))
        u, v = U[:, 0], U[:, 1]
        before = ws.get("before", (R, n), x)
        for i in range(H):
            for j in range(i + 1, H):  # ties: the lower index first
                U[i].addcmul_(torch.lt(k[j], k[i], out=before), D[j], value=2)  # j switches before i
                U[j].addcmul_(torch.le(k[i], k[j], out=before), D[i], value=2)  # i switches before j
        # dq: the change's coefficients in 1, b, b^2, summed over the outputs.
        dq = ws.get("dq", (3, H, R, n), x)
        if O == 1:
            dr, ds, u, v = dr[:, 0], ds[:, 0], u[:, 0], v[:, 0]
            torch.mul(dr, u, out=dq[0])
            torch.mul(ds, v, out=dq[2])
            torch.addcmul(dr.mul_(v), ds, u, out=dq[1])
        else:
            torch.sum(dr * u, 1, out=dq[0])
            torch.sum(ds * v, 1, out=dq[2])
            torch.sum(dr.mul_(v).addcmul_(ds, u), 1, out=dq[1])
        # Each change lands at its column of its row (at index r (m + 1) + k; k = m is a discarded slot), the
        # square of r + b s at column 0; a cumulative sum along each row gives every column's coefficients.
        index = ws.get("index", shape, longs).copy_(k.add_(offsets[:R])).view(1, -1).expand(3, -1)
        coef = torch.zeros(3, R * (m + 1), dtype=dtype).scatter_add_(1, index, dq.view(3, -1)).view(3, R, m + 1)
        rows_rs = RS.permute(2, 0, 1, 3).reshape(R, 2, O * n)  # a view when O = 1
        G = torch.bmm(rows_rs, rows_rs.transpose(1, 2))  # (R, 2, 2): the row sums of r r, r s, s s
        q0 = torch.stack([G[:, 0, 0], 2 * G[:, 0, 1], G[:, 1, 1]])  # (3, R): the square of r + b s
        coef[..., 0] += q0
        torch.sum(coef.cumsum_(-1)[..., :m] * powers, 0, out=loss[start : start + R])
        torch.add(dq.abs_().sum(-1).sum(1), q0.abs(), out=size[:, start : start + R])
    # A coefficient is a sum of at most n (H + 1) + m terms, each computed from O + 4 more, and at most
    # the row's sum of their absolute values; where that bound is not small against the loss (next to an
    # exact zero of it), the loss is evaluated directly.
    loss /= n * O
    bound = (size[:, :, None] * powers.abs()).sum(0) / (n * O) * (torch.finfo(dtype).eps * (n * (H + 1) + m + O + 8))
    i, j = torch.nonzero(bound > RTOL * loss.abs(), as_tuple=True)
    if i.numel():
        ai, bj = a_all[i, None, None], grid[j, None, None]
        weights = [W0 + ai * Da + bj * Db, V.expand(i.numel(), O, H).contiguous()]
        biases = [b0 + ai[..., 0] * ea + bj[..., 0] * eb, c.expand(i.numel(), O).contiguous()]
        loss[i, j] = loss_t(weights, biases, x.T.contiguous(), y.T.contiguous(), activation)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return loss.clamp_(min=0).numpy()[:, inverse]


_THREAD = threading.local()


def _workspace() -> Workspace:
    """This thread's workspace for :func:`slice_losses`, kept between calls: a fresh one costs a call its
    page faults (about 2 ms of 3.7 for the 101 x 101 demo slice on the development machine)."""
    if not hasattr(_THREAD, "workspace"):
        _THREAD.workspace = Workspace()
    return _THREAD.workspace


_HUGE = 1e300
"""``-P * _HUGE`` stands for ``-P / Q`` of a unit with ``Q = 0``: past either end of any grid."""


def _locator(columns: np.ndarray, inverse: Tensor):
    """``(P, out, work) -> k``: for each entry of ``P`` the first index with ``columns[k] > P * inverse``
    (``len(columns)`` if none) of sorted ``columns``, written as a float to ``out`` (``work``: an int64
    buffer of ``P``'s shape). On an evenly spaced grid it is computed from the spacing (20x faster here than
    the binary search of ``searchsorted``), and may be off by one where ``P * inverse`` is within rounding of
    a grid value."""
    m = columns.size
    gaps = np.diff(columns)
    if m > 1 and gaps.min() > 0 and gaps.max() - gaps.min() <= 1e-9 * gaps.max():
        spacing = (columns[-1] - columns[0]) / (m - 1)
        # k = floor((t - columns[0]) / spacing) + 1, clamped to [0, m]
        scale, shift = inverse / spacing, torch.tensor(1 - columns[0] / spacing, dtype=inverse.dtype)

        def evenly(P: Tensor, out: Tensor, work: Tensor) -> Tensor:
            return torch.addcmul(shift, P, scale, out=out).clamp_(0, m).floor_()

        return evenly

    grid = torch.as_tensor(columns, dtype=inverse.dtype)

    def search(P: Tensor, out: Tensor, work: Tensor) -> Tensor:
        return out.copy_(torch.searchsorted(grid, torch.mul(P, inverse, out=out), right=True, out=work))

    return search
