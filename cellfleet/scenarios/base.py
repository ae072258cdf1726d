"""Shared pieces of the scenario schema: constants, located errors, field types, the model base.

Checks that involve more than one field report the exact key path of the offending value through
:func:`located_error`: a :class:`pydantic_core.PydanticCustomError` of type
:data:`LOCATED_ERROR_TYPE` whose context carries ``issues``, a list of ``(relative_loc,
message)`` pairs that :mod:`cellfleet.scenarios.loader` turns into file, line and path.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Annotated, Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from cellfleet.sim.lifecycle import TRAFFIC_STATES, State

#: Error type of cross-field errors whose context holds ``issues`` with relative key paths.
LOCATED_ERROR_TYPE = "cellfleet_located"

#: The profile name that means "no traffic".
NO_TRAFFIC = "none"

#: Scenario-file spellings of the states, in state order.
STATE_KEYS: tuple[str, ...] = tuple(s.key for s in State)

#: State keys allowed in a traffic mapping (the states that pass traffic).
TRAFFIC_STATE_KEYS: tuple[str, ...] = tuple(s.key for s in TRAFFIC_STATES)

SECONDS_PER_DAY = 86_400.0

StateKey = Literal["initial", "provisioned", "active_billed", "suspended", "cancelled"]

Loc = tuple[str | int, ...]


def located_error(issues: Sequence[tuple[Loc, str]]) -> NoReturn:
    """Raise one validation error carrying several messages, each at a path relative to the
    value being validated (the model for model validators, the field for field validators)."""
    issues = [(tuple(loc), msg) for loc, msg in issues]
    text = "; ".join(f"{format_loc(loc)}: {msg}" if loc else msg for loc, msg in issues)
    raise PydanticCustomError(LOCATED_ERROR_TYPE, "{message}", {"message": text, "issues": issues})


def format_loc(loc: Sequence[str | int]) -> str:
    """``('fleet', 2, 'count')`` -> ``fleet[2].count``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def show_value(value: Any, limit: int = 60) -> str:
    """A value as it reads in a YAML file: ``-5``, ``'abc'``, ``true``, ``null``."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (datetime.date, datetime.datetime)):
        text = value.isoformat()
    elif isinstance(value, (int, float, str)):
        text = repr(value)
    elif isinstance(value, dict):
        inner = ", ".join(f"{show_value(k)}: {show_value(v)}" for k, v in value.items())
        text = "{" + inner + "}"
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(show_value(v) for v in value) + "]"
    else:
        text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


# --------------------------------------------------------------------------------------------
# Reusable field types


Name = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
"""A name that others refer to: letters, digits, ``_``, ``.`` and ``-``."""

NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegInt = Annotated[int, Field(ge=0)]
PosInt = Annotated[int, Field(ge=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
