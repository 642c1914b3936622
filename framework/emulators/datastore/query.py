"""Query planning: validate a v1 Query and turn it into a Plan (driver scan + conditions checked per entity).

Drivers, all range scans: the entity table (kindless), the kind index (key order), a zig-zag merge of
equality index ranges (key order), or one property's index (sorted by that property, bounded by its
inequalities). Remaining conditions are evaluated on the entity's own index values, so results match
what the index would give.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from typing import Any

from . import pb
from .encoding import encode_path, encode_value, escape, partition_prefix, path_prefix
from .errors import invalid, unimplemented

KEY = "__key__"
OP = pb.OP
EQ, IN, NE, NOT_IN, ANCESTOR = OP.EQUAL, OP.IN, OP.NOT_EQUAL, OP.NOT_IN, OP.HAS_ANCESTOR
RANGE_OPS = {OP.LESS_THAN, OP.LESS_THAN_OR_EQUAL, OP.GREATER_THAN, OP.GREATER_THAN_OR_EQUAL}
INEQUALITY_OPS = RANGE_OPS | {NE, NOT_IN}
MAX_IN = 30
MAX_NOT_IN = 10
MAX_INEQUALITY_PROPERTIES = 10


class Driver(enum.StrEnum):
    """The scan that produces a query's candidates; its value tags the query's cursors."""

    ENTITIES = "E"  # the entity table, in key order (kindless queries)
    KIND = "K"  # the kind index, in key order
    ZIGZAG = "Z"  # a merge join of equality index ranges, in key order
    SORTED = "S"  # one property's index, in that property's order
    METADATA = "M"  # the synthetic entities of __namespace__, __kind__, __property__


@dataclass
class Cond:
    """One property condition: `op` against encoded value(s)."""

    prop: str
    op: int
    values: list[bytes]


@dataclass
class Plan:
    """How to run one query."""

    partition: Any  # PartitionId
    ns: bytes
    kind: str | None
    conds: list[Cond] = field(default_factory=list)
    ancestor: bytes | None = None  # path prefix of the ancestor
    key_conds: list[Cond] = field(default_factory=list)
    order_prop: str | None = None
    descending: bool = False
    then_by: list[tuple[str, bool]] = field(default_factory=list)  # further sort orders (property, descending)
    key_descending: bool = False  # the final tie-break by key (after other sort orders) is descending
    projection: list[str] = field(default_factory=list)
    keys_only: bool = False
    distinct_on: list[str] = field(default_factory=list)
    driver: Driver = Driver.ENTITIES
    branches: list[tuple[list[Cond], list[Cond]]] = field(default_factory=list)  # OR: (conds, key conds)
    eq: list[tuple[str, bytes]] = field(default_factory=list)
    # What execution derives from the plan alone (driver bounds, residual conditions), kept on first use: plans are
    # memoised per query, so a repeated query skips that work too.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def result_type(self) -> int:
        if self.keys_only:
            return pb.KEY_ONLY
        return pb.PROJECTION if self.projection else pb.FULL

    def kind_prefix(self) -> bytes:
        return self.ns + escape((self.kind or "").encode())

    def property_prefix(self, prop: str) -> bytes:
        return b"P" + self.kind_prefix() + escape(prop.encode())

    @functools.cached_property
    def eq_prefixes(self) -> list[bytes]:
        """The index ranges the zig-zag driver merges: one per equality (property, value); computed once, as
        plans are memoised per query."""
        return [self.property_prefix(prop) + value for prop, value in self.eq]


MAX_DISJUNCTIONS = 30


def _dnf(flt: Any) -> list[list[Any]]:
    """The filter as a disjunction of conjunctions of property filters."""
    which = flt.WhichOneof("filter_type")
    if which == "property_filter":
        return [[flt.property_filter]]
    if which != "composite_filter":
        raise invalid("A filter must be a property filter or a composite filter.")
    comp = flt.composite_filter
    if not comp.filters:
        raise invalid("A composite filter must have at least one sub-filter.")
    parts = [_dnf(sub) for sub in comp.filters]
    if comp.op == pb.OR:
        out = [branch for part in parts for branch in part]
    elif comp.op == pb.AND:
        out = [[]]
        for part in parts:
            out = [left + right for left in out for right in part]
            if len(out) > MAX_DISJUNCTIONS:
                break
    else:
        raise invalid("A composite filter must have an operator.")
    if len(out) > MAX_DISJUNCTIONS:
        raise invalid(f"A query can have at most {MAX_DISJUNCTIONS} disjunctions after normalization.")
    return out


def _add_branches(plan: Plan, dnf: list[list[Any]]) -> None:
    """OR: every branch is checked on the entity; they must share one ancestor filter (or none)."""
    ancestors = set()
    for branch in dnf:
        sub = Plan(plan.partition, plan.ns, plan.kind)
        for f in branch:
            _add_filter(sub, f)
        _check_rules(sub)
        ancestors.add(sub.ancestor)
        plan.branches.append((sub.conds, sub.key_conds))
    if len(ancestors) > 1:
        raise invalid("All disjunctions of a query must have the same ancestor filter.")
    if any(c.op == NOT_IN for conds, _ in plan.branches for c in conds):
        raise invalid("A NOT_IN filter cannot be combined with OR.")
    plan.ancestor = ancestors.pop()


def _encode_filter_value(prop: str, value: Any) -> bytes:
    encoded = encode_value(value)
    if encoded is None:
        raise invalid(f'A filter on property "{prop}" cannot use an array or entity value.')
    return encoded


def _key_value(value: Any, partition: Any) -> bytes:
    """The encoded path of a __key__ filter's Key value, which must be in the query's partition."""
    if value.WhichOneof("value_type") != "key_value":
        raise invalid("A __key__ filter value must be a Key.")
    key = value.key_value
    kp = key.partition_id
    if (kp.project_id or partition.project_id) != partition.project_id or kp.namespace_id != partition.namespace_id:
        raise invalid(
            f"The query namespace is '{partition.namespace_id}' but __key__ filter namespace is '{kp.namespace_id}'."
        )
    return encode_path(key)


def _add_filter(plan: Plan, f: Any) -> None:
    prop, op = f.property.name, f.op
    if not prop:
        raise invalid("A property filter must name a property.")
    if op == ANCESTOR:
        if prop != KEY:
            raise invalid("An ancestor filter must be on __key__.")
        value = f.value
        if value.WhichOneof("value_type") != "key_value" or not value.key_value.path:
            raise invalid("An ancestor filter value must be a complete key.")
        anc = value.key_value
        if anc.partition_id.namespace_id != plan.partition.namespace_id:
            raise invalid(
                f"The query namespace is '{plan.partition.namespace_id}' but ancestor namespace is "
                f"'{anc.partition_id.namespace_id}'."
            )
        if anc.path[-1].WhichOneof("id_type") is None:
            raise invalid("An ancestor filter value must be a complete key.")
        if plan.ancestor is not None and plan.ancestor != path_prefix(anc):
            raise invalid("A query can have only one ancestor filter.")
        plan.ancestor = path_prefix(anc)
        return
    if op in (IN, NOT_IN):
        value = f.value
        if value.WhichOneof("value_type") != "array_value" or not value.array_value.values:
            raise invalid(f'The {"IN" if op == IN else "NOT_IN"} filter on "{prop}" needs a non-empty array value.')
        items = value.array_value.values
        if len(items) > (MAX_IN if op == IN else MAX_NOT_IN):
            raise invalid(f'Too many values in the {"IN" if op == IN else "NOT_IN"} filter on "{prop}".')
        if prop == KEY:
            plan.key_conds.append(Cond(prop, op, [_key_value(v, plan.partition) for v in items]))
        else:
            plan.conds.append(Cond(prop, op, [_encode_filter_value(prop, v) for v in items]))
        return
    if op not in RANGE_OPS and op not in (EQ, NE):
        raise invalid(f'Unknown filter operator {op} on "{prop}".')
    if prop == KEY:
        plan.key_conds.append(Cond(prop, op, [_key_value(f.value, plan.partition)]))
    else:
        plan.conds.append(Cond(prop, op, [_encode_filter_value(prop, f.value)]))


def _check_rules(plan: Plan) -> None:
    if plan.kind is None and plan.conds:
        raise invalid("A kindless query can only filter on __key__ and ancestors.")
    ops = [c.op for c in plan.conds + plan.key_conds]
    if ops.count(NE) + ops.count(NOT_IN) > 1:
        raise invalid("A query can have at most one NOT_EQUAL or NOT_IN filter.")
    if NOT_IN in ops and IN in ops:
        raise invalid("A query cannot combine IN and NOT_IN filters.")


def plan_query(query: Any, partition: Any) -> Plan:
    """Validate `query` for `partition` (a PartitionId already normalized) and choose a driver."""
    if len(query.kind) > 1:
        raise invalid("A query can only have one kind.")
    if query.HasField("find_nearest"):
        raise unimplemented("find_nearest (vector search) is not supported by this emulator.")
    kind = query.kind[0].name if query.kind else None
    if kind == "":
        raise invalid("The kind of a query must not be empty.")
    plan = Plan(partition, partition_prefix(partition.project_id, partition.database_id, partition.namespace_id), kind)
    if kind and kind.startswith("__") and kind.endswith("__"):
        _plan_metadata(plan, query)
        return plan
    if query.HasField("filter"):
        dnf = _dnf(query.filter)
        if len(dnf) == 1:
            for f in dnf[0]:
                _add_filter(plan, f)
        else:
            _add_branches(plan, dnf)
    _check_rules(plan)
    _plan_projection(plan, query)
    _plan_order(plan, query)
    return plan


def _plan_metadata(plan: Plan, query: Any) -> None:
    """__namespace__, __kind__, __property__: key filters and ancestors only, ascending key order."""
    from .metadata import KINDS

    if plan.kind not in KINDS:
        raise invalid(f"The kind {plan.kind} is reserved and not a metadata kind.")
    if query.HasField("filter"):
        dnf = _dnf(query.filter)
        if len(dnf) != 1:
            raise invalid("Metadata queries cannot use OR.")
        for f in dnf[0]:
            if f.property.name != KEY:
                raise invalid("Metadata queries can only filter on __key__.")
            _add_filter(plan, f)
    if any(o.property.name != KEY or o.direction == pb.DESCENDING for o in query.order):
        raise invalid("Metadata queries can only be sorted by __key__ ascending.")
    _plan_projection(plan, query)
    plan.driver = Driver.METADATA


def _plan_projection(plan: Plan, query: Any) -> None:
    names = [p.property.name for p in query.projection]
    if len(set(names)) != len(names):
        raise invalid("A property may appear only once in a projection.")
    if names == [KEY]:
        plan.keys_only = True
    elif names:
        # The key comes with every result anyway: ndb's ordered OR/IN keys-only queries project
        # [__key__, <sort properties>] so it can merge the branches in order.
        names = [name for name in names if name != KEY]
        eq_props = {c.prop for c in plan.conds if c.op == EQ}
        for name in names:
            if name in eq_props:
                raise invalid(f'Cannot use projection on a property with an equality filter: "{name}".')
        plan.projection = names
    plan.distinct_on = [p.name for p in query.distinct_on]
    if plan.distinct_on and not plan.projection:
        raise invalid("distinct_on requires a projection.")
    for name in plan.distinct_on:
        if name not in plan.projection:
            raise invalid(f'The distinct_on property "{name}" must also be projected.')
    for c in plan.conds + [c for conds, _ in plan.branches for c in conds]:
        if plan.distinct_on and c.op in INEQUALITY_OPS and c.prop not in plan.distinct_on:
            raise invalid(f"Inequality filter on {c.prop} must also be a group by property when group by "
                          "properties are set.")


def _plan_order(plan: Plan, query: Any) -> None:
    orders = [(o.property.name, o.direction == pb.DESCENDING) for o in query.order]
    names = [name for name, _ in orders]
    if len(set(names)) != len(names):
        raise invalid("A property may appear only once in the sort orders.")
    if names and plan.distinct_on and names[:len(plan.distinct_on)] != plan.distinct_on[:len(names)]:
        raise invalid("The distinct_on properties must come first in the sort orders, in the same order.")
    eq_props = {c.prop for c in plan.conds if c.op == EQ}
    orders = [o for o in orders if o[0] not in eq_props]  # a sort on an equality-filtered property is moot
    if KEY in [name for name, _ in orders]:
        orders = orders[:[name for name, _ in orders].index(KEY) + 1]  # keys are unique: later sorts are moot
    if len(orders) > 1 and orders[-1][0] == KEY:
        plan.key_descending = orders.pop()[1]  # the tie-break after the other orders
    ineq = [c.prop for c in plan.conds if c.op in INEQUALITY_OPS]
    if plan.kind is None and orders and orders[0] != (KEY, False):
        raise invalid("A kindless query can only be sorted by __key__ ascending.")
    ineq = list(dict.fromkeys(ineq))
    if len(ineq) > MAX_INEQUALITY_PROPERTIES:
        raise invalid(f"A query can have inequality filters on at most {MAX_INEQUALITY_PROPERTIES} properties.")
    if ineq and orders and orders[0][0] not in ineq:
        raise invalid(
            f"inequality filter property and first sort order must be the same: {ineq[0]} and {orders[0][0]}"
        )
    if ineq and not orders:
        orders = [(prop, False) for prop in ineq]  # inequalities imply ascending orders on their properties
    if orders and orders[0][0] != KEY:
        plan.order_prop, plan.descending = orders[0]
        plan.then_by = orders[1:]
        plan.driver = Driver.SORTED
    elif plan.branches:
        plan.descending = bool(orders) and orders[0][1]
        plan.driver = Driver.KIND if plan.kind is not None else Driver.ENTITIES
    else:
        plan.descending = bool(orders) and orders[0][1]
        plan.eq = sorted({(c.prop, c.values[0]) for c in plan.conds if c.op == EQ})
        plan.driver = Driver.ZIGZAG if plan.eq else (Driver.KIND if plan.kind is not None else Driver.ENTITIES)
