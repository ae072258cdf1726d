"""Load scenario files: YAML in, a validated :class:`~cellfleet.scenarios.schema.Scenario` out.

Every problem is reported as a :class:`ScenarioIssue` that reads like a compiler message,
``FILE:LINE: PATH: MESSAGE``, e.g. ``my.yaml:14: fleet[2].count: must be a positive integer,
got -5``. Line numbers come from the composed YAML node tree: each key path is mapped to the line
of its key (or of its list item); a missing key is reported at the line of the mapping that
lacks it. All issues of a file are collected and raised together in one :class:`ScenarioError`.

Built-in scenarios are the files ``cellfleet/scenarios/builtin/NAME.yaml``.
"""


from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cellfleet.scenarios.base import format_loc
from cellfleet.scenarios.errors import (
    LineIndex,
    Loc,
    ScenarioError,
    ScenarioIssue,
    describe_value,
    translate_validation_error,
)
from cellfleet.scenarios.overrides import apply_overrides, rescale_counts
from cellfleet.scenarios.schema import Scenario

__all__ = [
    "ScenarioError",
    "ScenarioIssue",
    "apply_overrides",
    "builtin_names",
    "builtin_summary",
    "builtin_text",
    "load_scenario",
    "parse_scenario",
    "parse_yaml",
    "rescale_counts",
    "scenario_to_yaml",
]

_BUILTIN_PACKAGE = "cellfleet.scenarios"
_BUILTIN_DIR = "builtin"
_BUILTIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


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
    node, lines, data = parse_yaml(text, file)
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
                    f"the top level must be a mapping of scenario keys, got {describe_value(data)}",
                )
            ]
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(translate_validation_error(exc, file, lines)) from None


def parse_yaml(text: str, file: str) -> tuple[yaml.Node | None, LineIndex | None, Any]:
    """Compose and construct one YAML document: ``(node, line index, data)``, all ``None`` for
    an empty document. YAML problems and duplicate keys become :class:`ScenarioError` naming
    ``file`` and the line. Shared by every YAML input with located messages (scenarios here, AT
    test plans in :mod:`cellfleet.modem.plan`)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None, None
        # Index lines before constructing: construction flattens merge keys in place.
        lines = LineIndex(node)
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
