"""Which composite index a query needs, by production's rules, and whether an index.yaml entry serves it.

Built-in indexes serve: kindless queries; ancestor and equality filters only (a merge join); one property's
inequality filters and sort; ancestor, equality and `__key__` inequality filters; one sort on one property
(not `__key__` descending). Everything else needs a composite index: ancestor with inequality or sort,
inequality or sort with equality on other properties, several sort orders, `__key__` descending, projections
of several properties. An index lists the equality properties, then the sort orders (an inequality's implied
ascending order included), then the other projected properties.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .query import EQ, IN, INEQUALITY_OPS, KEY, Driver, Plan

METADATA = Driver.METADATA


@dataclass(frozen=True)
class IndexDef:
    """One composite index: kind, ancestor, and (property, descending) pairs, as index.yaml lists them."""

    kind: str
    ancestor: bool
    properties: tuple[tuple[str, bool], ...]

    def yaml(self) -> str:
        """The index.yaml list entry of this index (ends with a newline)."""
        lines = [f"- kind: {self.kind}"]
        if self.ancestor:
            lines.append("  ancestor: yes")
        lines.append("  properties:")
        for name, descending in self.properties:
            lines.append(f"  - name: {name}")
            if descending:
                lines.append("    direction: desc")
        return "\n".join(lines) + "\n"

    def describe(self) -> str:
        """The properties as production's query plans show them: "(a ASC, b DESC, __name__ ASC)"."""
        props = list(self.properties)
        if not any(name == KEY for name, _ in props):
            props.append((KEY, False))
        return "(" + ", ".join(f"{'__name__' if n == KEY else n} {'DESC' if d else 'ASC'}" for n, d in props) + ")"


@dataclass(frozen=True)
class Need:
    """What one conjunction of a query asks of an index: equality properties (any order), then sort orders
    exactly, then further properties (any order)."""

    kind: str
    ancestor: bool
    equalities: tuple[str, ...]
    ordered: tuple[tuple[str, bool], ...]
    unordered: tuple[str, ...]
    required: bool

    def recommended(self) -> IndexDef:
        return IndexDef(self.kind, self.ancestor, tuple((name, False) for name in self.equalities) + self.ordered
                        + tuple((name, False) for name in self.unordered))

    def served_by(self, index: IndexDef) -> bool:
        """Whether `index` serves this need (a trailing `__key__` ascending in the index is implied anyway)."""
        if index.kind != self.kind or index.ancestor != self.ancestor:
            return False
        props = list(index.properties)
        if props and props[-1] == (KEY, False):
            props.pop()
        n, m = len(self.equalities), len(self.ordered)
        if len(props) != n + m + len(self.unordered):
            return False
        return ({name for name, _ in props[:n]} == set(self.equalities)
                and tuple(props[n:n + m]) == self.ordered
                and {name for name, _ in props[n + m:]} == set(self.unordered))


def _orders(plan: Plan) -> list[tuple[str, bool]]:
    """The sort orders the plan runs (inequalities' implied ones included), without a trailing key ascending."""
    if plan.order_prop is not None:
        tail = [(KEY, True)] if plan.key_descending else []
        return [(plan.order_prop, plan.descending), *plan.then_by, *tail]
    return [(KEY, True)] if plan.descending else []


def _need(plan: Plan, conds: list[Any], extra: list[str]) -> Need:
    """The need of one conjunction (`conds`) of the plan; `extra` are projected or aggregated properties."""
    orders = _orders(plan)
    ordered_names = {name for name, _ in orders}
    equalities = list(dict.fromkeys(c.prop for c in conds if c.op == EQ or (c.op == IN and c.prop not in ordered_names)))
    inequalities = [c.prop for c in conds if c.op in INEQUALITY_OPS]
    for prop in dict.fromkeys(inequalities):
        if prop not in ordered_names:
            orders.append((prop, False))
            ordered_names.add(prop)
    unordered = sorted({p for p in extra if p != KEY} - set(equalities) - ordered_names)
    count = len(equalities) + len(orders) + len(unordered)
    ancestor = plan.ancestor is not None
    if not orders and not unordered:
        required = False  # ancestor and equalities only: built-in indexes merged
    elif not ancestor and count <= 1:
        required = orders == [(KEY, True)]  # one property's built-in index, except key descending
    else:
        required = True
    return Need(plan.kind or "", ancestor, tuple(equalities), tuple(orders), tuple(unordered), required)


def needs(plan: Plan, aggregated: tuple[str, ...] = ()) -> list[Need]:
    """The composite indexes a planned query needs (one per OR branch), empty when built-ins serve it.

    Properties summed or averaged are treated like projected ones (whether production indexes them so
    is UNCONFIRMED; asking for the index is the safe side).
    """
    if plan.kind is None or plan.driver == METADATA:
        return []
    extra = [*plan.projection, *plan.distinct_on, *aggregated]
    branches = [conds for conds, _ in plan.branches] if plan.branches else [plan.conds]
    out = []
    for conds in branches:
        need = _need(plan, conds, extra)
        if need.required and need not in out:
            out.append(need)
    return out


def built_in(plan: Plan) -> str:
    """How production describes the built-in index a query uses (for explain's plan summary)."""
    orders = _orders(plan)
    if orders and orders[0][0] != KEY:
        name, desc = orders[0]
        return f"({name} {'DESC' if desc else 'ASC'}, __name__ ASC)"
    eq = sorted({c.prop for c in plan.conds if c.op == EQ})
    if eq:
        return "(" + ", ".join(f"{p} ASC" for p in eq) + ", __name__ ASC)"
    return "(__name__ DESC)" if orders else "(__name__ ASC)"
