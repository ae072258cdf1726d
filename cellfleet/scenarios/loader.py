"""Load scenario files: YAML in, a validated :class:`~cellfleet.scenarios.schema.Scenario` out.

Every problem is reported as a :class:`ScenarioIssue` that reads like a compiler message,
``FILE:LINE: PATH: MESSAGE``, e.g. ``my.yaml:14: fleet[2].count: must be a positive integer,
got -5``. Line numbers come from the composed YAML node tree: each key path is mapped to the line
of its key (or of its list item); a missing key is reported at the line of the mapping that
lacks it. All issues of a file are collected and raised together in one :class:`ScenarioError`.

Built-in scenarios are the files ``cellfleet/scenarios/builtin/NAME.yaml``.
"""

from __future__ import annotations

import difflib
import math
import re
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from cellfleet.scenarios.schema import (
    LOCATED_ERROR_TYPE,
    Scenario,
    format_loc,
    show_value,
)

__all__ = [
    "ScenarioError",
    "ScenarioIssue",
    "apply_overrides",
    "builtin_names",
    "builtin_summary",
    "builtin_text",
    "load_scenario",
    "parse_scenario",
    "scenario_to_yaml",
]

_BUILTIN_PACKAGE = "cellfleet.scenarios"
_BUILTIN_DIR = "builtin"
_BUILTIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

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


# --------------------------------------------------------------------------------------------
# Built-ins


def _builtin_dir() -> Any:
    return resources.files(_BUILTIN_PACKAGE).joinpath(_BUILTIN_DIR)


def builtin_names() -> list[str]:
    """Names of the built-in scenarios, sorted."""
    try:
        entries = list(_builtin_dir().iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(
        e.name[: -len(".yaml")]
        for e in entries
        if e.name.endswith(".yaml") and e.is_file() and _BUILTIN_NAME.match(e.name)
    )


def _builtin_label(name: str) -> str:
    return f"{_BUILTIN_DIR}/{name}.yaml"


def _not_found_message() -> str:
    names = builtin_names()
    known = ", ".join(names) if names else "none installed"
    return f"no such file or built-in scenario (built-ins: {known})"


def builtin_text(name: str) -> str:
    """The YAML text of built-in scenario ``name`` (:class:`ScenarioError` if unknown)."""
    if name not in builtin_names():
        raise ScenarioError([ScenarioIssue(name, None, "", _not_found_message())])
    return _builtin_dir().joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def builtin_summary(name: str) -> str:
    """First line of the built-in scenario's ``description`` (empty if it has none).

    Reads the YAML without validating it, so listing never fails on one broken file.
    """
    try:
        data = yaml.safe_load(builtin_text(name))
    except yaml.YAMLError:
        return ""
    description = data.get("description") if isinstance(data, dict) else None
    if not isinstance(description, str):
        return ""
    lines = description.strip().splitlines()
    return lines[0].strip() if lines else ""


# --------------------------------------------------------------------------------------------
# Loading


def load_scenario(source: str | Path) -> Scenario:
    """Load a scenario from a YAML file path or a built-in scenario name.

    An existing file wins over a built-in of the same name. Raises :class:`ScenarioError`
    listing every problem found.
    """
    if isinstance(source, Path):
        return _load_file(source, str(source))
    path = Path(source)
    if path.exists():
        return _load_file(path, source)
    if source in builtin_names():
        return parse_scenario(builtin_text(source), _builtin_label(source))
    raise ScenarioError([ScenarioIssue(source, None, "", _not_found_message())])


def _load_file(path: Path, label: str) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([ScenarioIssue(label, None, "", _not_found_message())]) from None
    except IsADirectoryError:
        raise ScenarioError(
            [ScenarioIssue(label, None, "", "is a directory, not a scenario file")]
        ) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            [ScenarioIssue(label, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
        ) from None
    except OSError as exc:
        raise ScenarioError(
            [ScenarioIssue(label, None, "", f"cannot read: {exc.strerror}")]
        ) from None
    return parse_scenario(text, label)


def parse_scenario(text: str, file: str = "<string>") -> Scenario:
    """Validate scenario YAML ``text``; ``file`` names it in messages."""
    node, lines, data = _parse_yaml(text, file)
    if node is None or lines is None:
        message = "the file is empty; expected a mapping of scenario keys"
        raise ScenarioError([ScenarioIssue(file, None, "", message)])
    if not isinstance(data, dict):
        raise ScenarioError(
            [
                ScenarioIssue(
                    file,
                    node.start_mark.line + 1,
                    "",
                    f"the top level must be a mapping of scenario keys, got {_kind(data)}",
                )
            ]
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_translate(exc, file, lines)) from None


def _parse_yaml(text: str, file: str) -> tuple[yaml.Node | None, _LineIndex | None, Any]:
    """Compose and construct one YAML document; YAML problems and duplicate keys become
    :class:`ScenarioError`."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None, None
        # Index lines before constructing: construction flattens merge keys in place.
        lines = _LineIndex(node)
        if lines.duplicates:
            raise ScenarioError(
                ScenarioIssue(file, line, format_loc(loc), msg)
                for loc, line, msg in lines.duplicates
            )
        try:
            data = loader.construct_document(node)
        except (ValueError, OverflowError) as exc:
            # Scalars that match a YAML type but do not construct, e.g. 2024-13-01.
            if isinstance(exc, yaml.YAMLError):
                raise
            raise ScenarioError(_bad_scalars(node, file, exc)) from None
        return node, lines, data
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = ", ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        line = mark.line + 1 if mark is not None else None
        column = f" (column {mark.column + 1})" if mark is not None else ""
        raise ScenarioError(
            [ScenarioIssue(file, line, "", f"YAML syntax error: {problem}{column}")]
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([ScenarioIssue(file, None, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()


def _bad_scalars(root: yaml.Node, file: str, exc: Exception) -> list[ScenarioIssue]:
    constructor = yaml.SafeLoader("")
    issues = []
    for loc, node in _walk_scalars(root, ()):
        try:
            constructor.construct_object(node)
        except (ValueError, OverflowError) as err:
            if isinstance(err, yaml.YAMLError):
                continue
            kind = node.tag.rsplit(":", 1)[-1]
            issues.append(
                ScenarioIssue(
                    file,
                    node.start_mark.line + 1,
                    format_loc(loc),
                    f"invalid {kind} {node.value!r}: {err}",
                )
            )
    return issues or [ScenarioIssue(file, None, "", f"invalid value: {exc}")]


def _walk_scalars(node: yaml.Node, loc: Loc) -> Iterable[tuple[Loc, yaml.ScalarNode]]:
    if isinstance(node, yaml.ScalarNode):
        yield loc, node
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _walk_scalars(item, (*loc, i))
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _walk_scalars(value, (*loc, str(key.value)))


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {show_value(value)}"
    return f"the value {show_value(value)}"


class _LineIndex:
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


def _translate(exc: ValidationError, file: str, lines: _LineIndex | None) -> list[ScenarioIssue]:
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
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
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


# --------------------------------------------------------------------------------------------
# Overrides


def _override_int(flag: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        message = f"must be an integer, got {show_value(value)}"
        raise ScenarioError([ScenarioIssue("", None, flag, message)])
    if value < minimum:
        what = "a positive integer" if minimum == 1 else "a non-negative integer"
        raise ScenarioError([ScenarioIssue("", None, flag, f"must be {what}, got {value}")])
    return value


def rescale_counts(counts: Sequence[int], total: int) -> list[int]:
    """Scale ``counts`` proportionally to sum to exactly ``total`` (largest remainder).

    Each share is ``count * total / sum(counts)``; everyone gets the floor, the rest goes to
    the largest remainders (ties to the earlier group). Groups whose share is below one still
    get one device, taken back from the groups most over their share (ties: later group first).
    Needs ``total >= len(counts)``.
    """
    old = sum(counts)
    if total < len(counts):
        raise ValueError(f"cannot give {len(counts)} groups at least one device out of {total}")
    # Exact integer arithmetic: share_i = counts[i] * total / old.
    seats = [max(1, c * total // old) for c in counts]

    def surplus(i: int) -> int:  # (share - seats) * old, exact
        return counts[i] * total - seats[i] * old

    diff = total - sum(seats)
    while diff > 0:
        for i in sorted(range(len(counts)), key=lambda i: (-surplus(i), i))[:diff]:
            seats[i] += 1
            diff -= 1
    while diff < 0:
        donors = [i for i in range(len(counts)) if seats[i] > 1]
        i = min(donors, key=lambda i: (surplus(i), -i))
        seats[i] -= 1
        diff += 1
    return seats


def apply_overrides(
    scenario: Scenario,
    *,
    seed: int | None = None,
    devices: int | None = None,
    days: int | None = None,
) -> Scenario:
    """A copy of ``scenario`` with command-line overrides applied, validated again.

    - ``seed`` replaces the seed.
    - ``days`` replaces ``duration_days``; occurrences of actions that now fall on or after the
      end are dropped (an action with none left is removed, a repeat keeps its remaining
      ``times``).
    - ``devices`` rescales the group counts to sum to exactly ``devices`` (see
      :func:`rescale_counts`) and scales every ``select.count`` by ``devices / total_devices``
      (rounded half up, at least 1).

    Bad values raise :class:`ScenarioError` with paths ``--seed``, ``--devices``, ``--days``.
    """
    data = scenario.model_dump()
    if seed is not None:
        data["seed"] = _override_int("--seed", seed, 0)
    if days is not None:
        data["duration_days"] = _override_int("--days", days, 1)
        kept = []
        for action in scenario.actions:
            remaining = [d for d in action.occurrence_days() if d < days]
            if not remaining:
                continue
            entry = action.model_dump()
            if action.repeat is not None:
                entry["repeat"]["times"] = len(remaining)
            kept.append(entry)
        data["actions"] = kept
    if devices is not None:
        devices = _override_int("--devices", devices, 1)
        groups = len(scenario.fleet)
        if devices < groups:
            raise ScenarioError(
                [
                    ScenarioIssue(
                        "",
                        None,
                        "--devices",
                        f"must be at least the number of fleet groups ({groups}), got {devices}",
                    )
                ]
            )
        old = scenario.total_devices
        counts = rescale_counts([g.count for g in scenario.fleet], devices)
        for group, count in zip(data["fleet"], counts, strict=True):
            group["count"] = count
        for action in data["actions"]:
            count = action["select"]["count"]
            if count is not None:
                action["select"]["count"] = max(1, (2 * count * devices + old) // (2 * old))
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_translate(exc, "", None)) from None


# --------------------------------------------------------------------------------------------
# Writing


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # libyaml when present: 5x faster
    """Safe dumper writing multi-line strings as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def scenario_to_yaml(scenario: Scenario) -> str:
    """The fully resolved scenario (defaults filled in) as YAML that loads back equal."""
    data = scenario.model_dump(mode="json")
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
