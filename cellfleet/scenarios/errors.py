"""Scenario problems as compiler-style messages: ``FILE:LINE: PATH: MESSAGE``.

Line numbers come from the composed YAML node tree (:class:`LineIndex`): each key path is mapped
to the line of its key (or of its list item); a missing key is reported at the line of the
mapping that lacks it. Pydantic's validation errors are translated into plain sentences that
quote the offending value (:func:`translate_validation_error`).
"""

from __future__ import annotations

import difflib
import math
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from cellfleet.scenarios.base import LOCATED_ERROR_TYPE, format_loc, show_value
from cellfleet.scenarios.schema import Scenario

Loc = tuple[str | int, ...]

# --------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class ScenarioIssue:
    """One problem in a scenario: where it is and what is wrong."""

    file: str
    """File name as given (``builtin/NAME.yaml`` for built-ins; empty for overrides)."""
    line: int | None
    """1-based line, or ``None`` when the problem has no line (missing file, empty file)."""
    path: str
    """Key path such as ``fleet[2].count`` (empty for file-level problems)."""
    message: str
    """Plain-language description, including the offending value as given."""

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        parts = [p for p in (where, self.path) if p]
        return ": ".join([*parts, self.message])


class ScenarioError(Exception):
    """A scenario could not be loaded; :attr:`issues` lists every problem found."""

    def __init__(self, issues: Iterable[ScenarioIssue]) -> None:
        self.issues: list[ScenarioIssue] = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))

    def __str__(self) -> str:
        return "\n".join(str(i) for i in self.issues)



def describe_value(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {show_value(value)}"
    return f"the value {show_value(value)}"



class LineIndex:
    """Line of every key path of a composed YAML document, and its duplicate keys."""

    _MERGE_TAG = "tag:yaml.org,2002:merge"

    def __init__(self, root: yaml.Node) -> None:
        self.root_line = root.start_mark.line + 1
        self.lines: dict[Loc, int] = {(): self.root_line}
        self.duplicates: list[tuple[Loc, int, str]] = []
        self._active: set[int] = set()
        self._visit(root, ())

    def _visit(self, node: yaml.Node, loc: Loc) -> None:
        if id(node) in self._active:  # recursive alias
            return
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                for i, item in enumerate(node.value):
                    self.lines.setdefault((*loc, i), item.start_mark.line + 1)
                    self._visit(item, (*loc, i))
            elif isinstance(node, yaml.MappingNode):
                self._visit_mapping(node, loc)
        finally:
            self._active.discard(id(node))

    def _visit_mapping(self, node: yaml.MappingNode, loc: Loc) -> None:
        seen: dict[str, int] = {}
        merged: list[yaml.Node] = []
        for key, value in node.value:
            if key.tag == self._MERGE_TAG:
                merged.extend(value.value if isinstance(value, yaml.SequenceNode) else [value])
                continue
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
            line = key.start_mark.line + 1
            if name in seen:
                self.duplicates.append(
                    ((*loc, name), line, f"duplicate key '{name}' (first at line {seen[name]})")
                )
                continue
            seen[name] = line
            self.lines.setdefault((*loc, name), line)
            self._visit(value, (*loc, name))
        for source in merged:  # merged keys: lines of the anchor, explicit keys win
            if isinstance(source, yaml.MappingNode):
                for key, value in source.value:
                    name = str(key.value)
                    if name not in seen:
                        self.lines.setdefault((*loc, name), key.start_mark.line + 1)
                        self._visit(value, (*loc, name))

    def line(self, loc: Loc) -> int:
        """Line of ``loc``, or of its deepest ancestor present in the file."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return self.root_line


# --------------------------------------------------------------------------------------------
# Pydantic errors -> plain messages


def translate_validation_error(exc: ValidationError, file: str, lines: LineIndex | None) -> list[ScenarioIssue]:
    found: list[tuple[Loc, str]] = []
    for err in exc.errors():
        loc: Loc = tuple(p for p in err["loc"] if p != "[key]")
        if err["type"] == LOCATED_ERROR_TYPE:
            for rel, message in err["ctx"]["issues"]:
                found.append(((*loc, *rel), message))
        elif err["type"] == "extra_forbidden":
            found.append((loc, _unknown_key(loc)))
        else:
            found.append((loc, _plain_message(err, _is_int_field(loc))))
    issues = []
    for loc, message in found:
        line = lines.line(loc) if lines is not None else None
        # An unknown key is reported on its own line, against the mapping that holds it.
        path = format_loc(loc[:-1]) if message.startswith("unknown key ") else format_loc(loc)
        issues.append(ScenarioIssue(file, line, path, message))
    issues.sort(key=lambda i: -1 if i.line is None else i.line)
    return issues


def _unknown_key(loc: Loc) -> str:
    key = loc[-1]
    message = f"unknown key {show_value(key)}"
    model = _model_at(loc[:-1])
    if model is None:
        return message
    fields = list(model.model_fields)
    close = difflib.get_close_matches(str(key), fields, n=1, cutoff=0.6)
    if close:
        return f"{message} (did you mean '{close[0]}'?)"
    return f"{message} (allowed: {', '.join(fields)})"


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``Optional``/unions down to a model or list type."""
    for _ in range(10):
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            preferred = [
                a
                for a in members
                if (isinstance(a, type) and issubclass(a, BaseModel))
                or typing.get_origin(a) is list
            ]
            tp = (preferred or members)[0]
        else:
            return tp
    return tp


def _model_at(loc: Loc) -> type[BaseModel] | None:
    tp: Any = Scenario
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, int):
            if typing.get_origin(tp) is not list:
                return None
            tp = typing.get_args(tp)[0]
        elif isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            tp = tp.model_fields[part].annotation
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _is_int_field(loc: Loc) -> bool:
    """Whether ``loc`` names a model field declared as an integer."""
    if not loc or not isinstance(loc[-1], str):
        return False
    model = _model_at(loc[:-1])
    if model is None or loc[-1] not in model.model_fields:
        return False
    return _unwrap(model.model_fields[loc[-1]].annotation) is int


_TYPE_NAMES = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "date_type": "a date (YYYY-MM-DD)",
    "date_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "a date (YYYY-MM-DD)",
    "finite_number": "a finite number",
}


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return str(value)


def _plain_message(err: Any, int_field: bool = False) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    got = f"got {show_value(value)}"
    if kind == "missing":
        return "required key missing"
    if kind in _TYPE_NAMES:
        return f"must be {_TYPE_NAMES[kind]}, {got}"
    if kind == "literal_error":
        options = [q or n for q, n in re.findall(r"'([^']*)'|(-?\d+)", str(ctx.get("expected", "")))]
        return f"must be one of {', '.join(options)}, {got}"
    if kind == "greater_than_equal":
        bound = ctx.get("ge")
        if int_field and bound == 1:
            return f"must be a positive integer, {got}"
        if int_field and bound == 0:
            return f"must be a non-negative integer, {got}"
        if bound == 0:
            return f"must not be negative, {got}"
        return f"must be at least {_number(bound)}, {got}"
    if kind == "greater_than":
        return f"must be greater than {_number(ctx.get('gt'))}, {got}"
    if kind == "less_than_equal":
        return f"must be at most {_number(ctx.get('le'))}, {got}"
    if kind == "less_than":
        return f"must be less than {_number(ctx.get('lt'))}, {got}"
    if kind == "too_short":
        if isinstance(value, (list, tuple)):
            n = ctx.get("min_length", 1)
            return f"must list at least {n} {'entry' if n == 1 else 'entries'}, got an empty list"
        return f"must not be empty, {got}"
    if kind == "string_too_short":
        return f"must not be empty, {got}"
    if kind == "string_pattern_mismatch":
        return f"must contain only letters, digits, '_', '.' and '-', {got}"
    text = str(err.get("msg", "invalid value"))
    return f"{text[:1].lower()}{text[1:]}, {got}"
