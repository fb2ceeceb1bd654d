"""Training strategies: one module per strategy, each a config class and a runtime class
registered together (:mod:`eqlandscape.train.strategies.base`: the protocol and the registry).

========================  =====================================================================
``constrained``           train in ``E`` (:mod:`~eqlandscape.train.strategies.constrained`)
``free``                  a free MLP (:mod:`~eqlandscape.train.strategies.free`)
``augmented``             free, on transformed copies of the batch (:mod:`~.augmented`)
``relaxed``               constrained, then free (:mod:`~.relaxed`)
``penalty``               free plus ``(gamma/2)||A - P_E A||^2`` (:mod:`~.penalty`)
``ace``, ``ace-resilient``  ``W_eq + gamma_l V``, primal-dual (:mod:`~.ace`)
``rpp``                   residual pathway prior ``W_E + W_free`` (:mod:`~.rpp`)
``scheduled``             ``W_eq + theta(t) V`` on a schedule (:mod:`~.scheduled`)
========================  =====================================================================

The modules are imported in the order of the table: the order of
:func:`~eqlandscape.train.config.strategy_names`.
"""

# ruff: noqa: I001
from eqlandscape.train.strategies.base import Strategy, build_strategy, register_strategy
from eqlandscape.train.strategies.constrained import ConstrainedConfig
from eqlandscape.train.strategies.free import FreeConfig
from eqlandscape.train.strategies.augmented import AugmentedConfig
from eqlandscape.train.strategies.relaxed import RelaxedConfig
from eqlandscape.train.strategies.penalty import PenaltyConfig
from eqlandscape.train.strategies.ace import AceConfig, AceResilientConfig
from eqlandscape.train.strategies.rpp import RppConfig
from eqlandscape.train.strategies.scheduled import ScheduledConfig

__all__ = [
    "AceConfig",
    "AceResilientConfig",
    "AugmentedConfig",
    "ConstrainedConfig",
    "FreeConfig",
    "PenaltyConfig",
    "RelaxedConfig",
    "RppConfig",
    "ScheduledConfig",
    "Strategy",
    "build_strategy",
    "register_strategy",
]
