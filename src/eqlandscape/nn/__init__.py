"""PyTorch models over permutation reps and their ensemble form (docs/design.md sections 3 and 4).

* :class:`EquivariantLinear`, :class:`EquivariantMLP`: ``torch.nn.Module`` s whose weights are
  parametrized by coordinates (``orbit``, ``orthonormal``, ``projected``, ``free``, ``random``);
  ``parametrization="free"`` is the plain MLP.
* :class:`Ensemble`: ``K`` models as stacked coordinates with a leading model dimension, and pure
  functions of them (forward, loss and hand-written gradient).
* :class:`MLPArchitecture`: reps, activation, biases, and the seeded initialization rule.

Conventions: weights ``(n_out, n_in)``, row batches ``x (B, n_in)``, a layer computes
``x @ W.T + b``; ensemble tensors carry a leading model dimension ``K``.
"""

from eqlandscape.nn.architecture import ACTIVATIONS, MLPArchitecture
from eqlandscape.nn.ensemble import Ensemble
from eqlandscape.nn.functional import mlp_forward, mlp_loss_and_grad
from eqlandscape.nn.layers import EquivariantLinear
from eqlandscape.nn.mlp import EquivariantMLP
from eqlandscape.nn.parametrization import KINDS, Parametrization, make_parametrization

__all__ = [
    "ACTIVATIONS",
    "KINDS",
    "Ensemble",
    "EquivariantLinear",
    "EquivariantMLP",
    "MLPArchitecture",
    "Parametrization",
    "make_parametrization",
    "mlp_forward",
    "mlp_loss_and_grad",
]
