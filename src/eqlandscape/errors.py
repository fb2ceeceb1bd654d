"""Exceptions raised by eqlandscape.

Every error raised for bad input is a subclass of :class:`EqlandscapeError` (itself a
``ValueError``), and its message names the offending value. The command line turns any of
them into one line on stderr and exit code 2.
"""

from __future__ import annotations


class EqlandscapeError(ValueError):
    """Base class of all input errors of the toolkit."""


class NotAPermutationError(EqlandscapeError):
    """An array that should be a permutation of ``0..n-1`` is not one."""


class DegreeMismatchError(EqlandscapeError):
    """Permutations (or representations) that should act on the same number of points do not."""


class UnknownGroupError(EqlandscapeError):
    """A group name that the catalog cannot parse."""


class NotAHomomorphismError(EqlandscapeError):
    """Images of group elements that do not define a homomorphism ``G -> S_n``."""


class GroupMismatchError(EqlandscapeError):
    """Two objects that must live over the same group (a direct sum, a map) do not."""


class UnknownSubgroupError(EqlandscapeError):
    """A subgroup class label that the group does not have."""


class RepSpecError(EqlandscapeError):
    """A textual representation spec that cannot be parsed."""


class ConfigError(EqlandscapeError):
    """An invalid option of a model, task or training run."""


class WeightShapeError(EqlandscapeError):
    """Weights (or biases) whose number or shapes do not fit an architecture."""


class NeuronIndexError(EqlandscapeError):
    """A neuron or layer index out of range, or a permutation that is not one of a layer's neurons."""


class OutputDirError(EqlandscapeError):
    """An output directory that a run may not write into."""


class GroupTooLargeError(EqlandscapeError):
    """An operation that would list more elements of a group than the enumeration limit."""
