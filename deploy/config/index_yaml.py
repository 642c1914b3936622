"""index.yaml: Datastore composite indexes, §5.6 (read by check, the emulator's index modes and deploy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .problems import Problem
from .yaml_nodes import Findings, Node, check_keys, expect_list, expect_map, get_bool, get_str, read_yaml

_DIRECTIONS = {"asc": "asc", "ascending": "asc", "desc": "desc", "descending": "desc"}


@dataclass(frozen=True)
class IndexProperty:
    name: str
    direction: Literal["asc", "desc"] = "asc"
    mode: Literal["geospatial"] | None = None


@dataclass(frozen=True)
class IndexDef:
    kind: str
    line: int
    ancestor: bool = False
    properties: tuple[IndexProperty, ...] = ()

    @property
    def key(self) -> tuple[str, bool, tuple[IndexProperty, ...]]:
        """What makes two definitions the same index (the line does not)."""
        return (self.kind, self.ancestor, self.properties)


@dataclass(frozen=True)
class Indexes:
    path: Path | None
    indexes: tuple[IndexDef, ...] = ()
    warnings: tuple[Problem, ...] = field(default=(), compare=False)


def _property(item: Node, findings: Findings) -> IndexProperty | None:
    entry = expect_map(item, "an index property", findings, "`- name: created` with optional `direction: desc`")
    if entry is None:
        return None
    check_keys(entry, ("name", "direction", "mode"), "an index property", findings)
    name_node = entry.get("name")
    if name_node is None:
        findings.error(entry.line, "this index property has no name", "add `name: PROPERTY`")
        return None
    name = get_str(name_node, "name", findings, "write the property's name")
    if not name:
        if name is not None:
            findings.error(name_node.key_line, "the property name is empty", "write the property's name")
        return None
    direction, mode = "asc", None
    dir_node, mode_node = entry.get("direction"), entry.get("mode")
    if dir_node is not None:
        text = dir_node.text.strip() if dir_node.is_scalar else ""
        if text not in _DIRECTIONS:
            findings.error(dir_node.key_line, f"direction is {dir_node.describe()}",
                           "use asc (ascending, the default) or desc (descending)")
        else:
            direction = _DIRECTIONS[text]
    if mode_node is not None:
        if not mode_node.is_scalar or mode_node.text != "geospatial":
            findings.error(mode_node.key_line, f"mode is {mode_node.describe()}", "the only mode is geospatial")
        elif dir_node is not None:
            findings.error(mode_node.key_line, f"property {name!r} has both mode and direction",
                           "keep one: a geospatial property has no direction")
        else:
            mode = "geospatial"
    return IndexProperty(name, direction, mode)  # type: ignore[arg-type]


def _index(item: Node, findings: Findings) -> IndexDef | None:
    entry = expect_map(item, "an index", findings, "`- kind: Task` with `properties:` below it")
    if entry is None:
        return None
    check_keys(entry, ("kind", "ancestor", "properties"), "an index", findings)
    kind_node = entry.get("kind")
    line = kind_node.key_line if kind_node else entry.line
    kind = get_str(kind_node, "kind", findings, "write the entity kind, e.g. `kind: Task`")
    if kind_node is None or not kind:
        findings.error(line, "this index has no kind", "add `kind: KIND` (the entity kind it indexes)")
    ancestor = bool(get_bool(entry.get("ancestor"), "ancestor", findings))
    items = expect_list(entry.get("properties"), "properties", findings, "a list of `- name: PROPERTY` entries")
    props = [_property(p, findings) for p in items]
    seen: set[str] = set()
    for prop_item, prop in zip(items, props, strict=True):
        if prop is not None and prop.name in seen:
            findings.warn(prop_item.line, f"property {prop.name!r} appears twice in this index",
                           "list each property once")
        elif prop is not None:
            seen.add(prop.name)
    if any(p is not None and p.mode == "geospatial" for p in props):
        for prop_item in items:
            direction = prop_item.get("direction") if prop_item.is_map else None
            if direction is not None and "mode" not in prop_item.entries:  # both on one: reported above
                findings.error(direction.key_line, "a geospatial index takes no direction on any property",
                               "remove `direction:` from every property of this index")
    if not items and not ancestor:
        findings.warn(line, "this index has no properties and no ancestor: Datastore builds that one itself",
                      "remove it, or list the properties it orders or filters by")
    elif len(items) == 1 and not ancestor and props[0] is not None and props[0].mode is None:
        findings.warn(line, f"an index on the single property {props[0].name!r} is built in",
                      "remove it (Datastore indexes every single property itself)")
    if not kind or any(p is None for p in props):
        return None
    return IndexDef(kind, line, ancestor, tuple(p for p in props if p is not None))


def read_index_node(root: Node, path: Path, findings: Findings) -> Indexes:
    check_keys(root, ("indexes",), "index.yaml", findings, handled=("application",))
    if "application" in root.entries:
        findings.error(root.entries["application"].key_line, "`application:` is not allowed in index.yaml",
                       "remove it; pass --project to gcloud")
    items = expect_list(root.get("indexes"), "indexes", findings, "`- kind: Task` entries")
    indexes: list[IndexDef] = []
    for item in items:
        index = _index(item, findings)
        if index is None:
            continue
        twin = next((i for i in indexes if i.key == index.key), None)
        if twin is not None:
            findings.warn(index.line, f"the same index as on line {twin.line}", "remove one of them")
            continue
        indexes.append(index)
    return Indexes(path, tuple(indexes))


def load_indexes(path: Path | str) -> Indexes:
    """Read and check index.yaml; ConfigError lists every problem (FILE:LINE)."""
    path = Path(path)
    findings = Findings(path)
    root = expect_map(read_yaml(path, findings), "the top level of index.yaml", findings,
                      "`indexes:` followed by a list of indexes")
    indexes = read_index_node(root, path, findings) if root is not None else Indexes(path)
    findings.raise_if_errors()
    return Indexes(indexes.path, indexes.indexes, findings.warnings())
