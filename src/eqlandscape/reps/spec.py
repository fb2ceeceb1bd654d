"""The textual spec of permutation reps: its grammar, a parser into a small syntax tree, and the
printing rules that make ``str(rep)`` a spec which parses back to an equal rep.

Grammar (whitespace between tokens is ignored)::

    sum     := term ("+" term)*                direct sum, left to right
    term    := [INT "*"] product               INT copies (direct sum) of the product
    product := factor ("*" factor)*            tensor product, left to right
    factor  := primary ["^" INT]               tensor power
    primary := ATOM | "(" sum ")"
    ATOM    := "trivial" | "natural" | "regular" | <group>/<label>

``<group>/<label>`` is the coset rep ``G/H`` for the subgroup class ``label``; ``<group>`` is the
group's name (``S3/C2``) or the letter ``G`` (``G/C2``). Multiplicities and exponents are positive
integers. Examples: ``natural``, ``2*trivial + S3/C2``, ``natural^2``, ``natural*regular``,
``2*(natural + trivial)^2``.

This module knows only strings; :func:`eqlandscape.reps.parse_rep` evaluates the tree into a rep.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from enum import IntEnum

from eqlandscape.errors import RepSpecError

_TOKEN = re.compile(
    r"\s*(?:(?P<int>\d+)|(?P<atom>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z0-9_']+)?)|(?P<op>[+*^()]))"
)
_GROUP_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Token:
    kind: str  # "int", "atom", "op" or "end"
    text: str
    pos: int


def tokenize(spec: str) -> list[Token]:
    """Split ``spec`` into tokens, ending with an ``end`` token; raises :class:`RepSpecError` naming the
    first character that starts no token."""
    if not isinstance(spec, str):
        raise RepSpecError(f"a rep spec must be a string, got {spec!r}")
    tokens, pos = [], 0
    while pos < len(spec):
        if not spec[pos:].strip():
            break
        m = _TOKEN.match(spec, pos)
        if m is None:
            bad = spec[pos:].lstrip()
            at = len(spec) - len(bad)
            raise RepSpecError(f"unexpected character {bad[0]!r} at position {at} in rep spec {spec!r}")
        kind = m.lastgroup
        assert kind is not None
        tokens.append(Token(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    tokens.append(Token("end", "", len(spec)))
    return tokens


# ---------------------------------------------------------------------- syntax tree
@dataclass(frozen=True)
class Atom:
    """``trivial``, ``natural``, ``regular`` or ``<group>/<label>`` (then ``group`` and ``label`` are set)."""

    text: str
    pos: int

    @property
    def group(self) -> str | None:
        return self.text.split("/", 1)[0] if "/" in self.text else None

    @property
    def label(self) -> str | None:
        return self.text.split("/", 1)[1] if "/" in self.text else None


@dataclass(frozen=True)
class Paren:
    inner: Node


@dataclass(frozen=True)
class Power:
    base: Node
    exponent: int


@dataclass(frozen=True)
class Product:
    factors: tuple[Node, ...]


@dataclass(frozen=True)
class Copies:
    count: int
    inner: Node


@dataclass(frozen=True)
class Sum:
    terms: tuple[Node, ...]


Node = Atom | Paren | Power | Product | Copies | Sum


class _Parser:
    def __init__(self, spec: str):
        self.spec = spec
        self.tokens = tokenize(spec)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, expected: str) -> RepSpecError:
        t = self.tok
        found = "the end of the spec" if t.kind == "end" else repr(t.text)
        return RepSpecError(
            f"expected {expected} but found {found} at position {t.pos} in rep spec {self.spec!r}"
        )

    def eat(self, text: str) -> bool:
        if self.tok.kind == "op" and self.tok.text == text:
            self.i += 1
            return True
        return False

    def positive_int(self, what: str) -> int:
        t = self.tok
        if t.kind != "int":
            raise self.fail(what)
        if int(t.text) < 1:
            raise RepSpecError(
                f"{what} must be at least 1, got {t.text!r} at position {t.pos} in rep spec {self.spec!r}"
            )
        self.i += 1
        return int(t.text)

    def parse(self) -> Node:
        node = self.sum()
        if self.tok.kind != "end":
            raise self.fail("'+', '*', '^' or the end")
        return node

    def sum(self) -> Node:
        terms = [self.term()]
        while self.eat("+"):
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else Sum(tuple(terms))

    def term(self) -> Node:
        if self.tok.kind == "int":
            count = self.positive_int("a multiplicity")
            if not self.eat("*"):
                raise self.fail(f"'*' after the multiplicity {count}")
            return Copies(count, self.product())
        return self.product()

    def product(self) -> Node:
        factors = [self.factor()]
        while self.eat("*"):
            factors.append(self.factor())
        return factors[0] if len(factors) == 1 else Product(tuple(factors))

    def factor(self) -> Node:
        base = self.primary()
        if self.eat("^"):
            return Power(base, self.positive_int("an exponent"))
        return base

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "atom":
            self.i += 1
            return Atom(t.text, t.pos)
        if self.eat("("):
            inner = self.sum()
            if not self.eat(")"):
                raise self.fail("')'")
            return Paren(inner)
        raise self.fail("a rep (trivial, natural, regular, <group>/<label> or '(')")


def parse_spec(spec: str) -> Node:
    """The syntax tree of ``spec``; raises :class:`RepSpecError` naming the offending token."""
    return _Parser(spec).parse()


# ---------------------------------------------------------------------- printing
class Prec(IntEnum):
    """How tightly a spec binds, loosest first; a spec joins an operation unparenthesized when its
    precedence is at least the operation's."""

    SUM = 0
    COPIES = 1
    PRODUCT = 2
    POWER = 3
    ATOM = 4


def precedence(spec: str) -> Prec:
    """Precedence of the top-level operation of ``spec``. A name that is not a valid spec (such as
    ``<rep of S3 on 3 points>``) is treated as an opaque atom."""
    try:
        node = parse_spec(spec)
    except RepSpecError:
        return Prec.ATOM
    kinds = {Sum: Prec.SUM, Copies: Prec.COPIES, Product: Prec.PRODUCT, Power: Prec.POWER}
    return kinds.get(type(node), Prec.ATOM)


def _wrap(spec: str, at_least: Prec) -> str:
    return spec if precedence(spec) >= at_least else f"({spec})"


def sum_spec(*specs: str) -> str:
    """``a + b + ...`` (direct sum is associative, so no term needs parentheses)."""
    return " + ".join(specs)


def copies_spec(count: int, spec: str) -> str:
    """``count*spec``: ``count`` copies of a product or tighter, else of the parenthesized spec."""
    return spec if count == 1 else f"{count}*{_wrap(spec, Prec.PRODUCT)}"


def product_spec(*specs: str) -> str:
    """``a*b*...`` (the tensor product of point-pair indices is associative)."""
    return "*".join(_wrap(s, Prec.PRODUCT) for s in specs)


def power_spec(spec: str, exponent: int) -> str:
    """``spec^exponent``, parenthesizing anything but an atom."""
    return spec if exponent == 1 else f"{_wrap(spec, Prec.ATOM)}^{exponent}"


def coset_spec(group_name: str, label: str) -> str:
    """The atom of the coset rep ``G/H``: ``<group name>/<label>``, or ``G/<label>`` when the group's
    name is not a spec token (e.g. an unnamed group)."""
    prefix = group_name if _GROUP_TOKEN.fullmatch(group_name) else "G"
    return f"{prefix}/{label}"


def check_count(count: object, what: str) -> int:
    """A multiplicity or exponent: a positive integer (Python or NumPy), else :class:`RepSpecError`
    naming it."""
    try:
        value = operator.index(count)  # type: ignore[arg-type]
    except TypeError:
        value = 0
    if isinstance(count, bool) or value < 1:
        raise RepSpecError(f"{what} must be a positive integer, got {count!r}")
    return value
