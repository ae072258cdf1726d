"""Rate plans of the scenario schema: test allowances and one-time fees."""

from __future__ import annotations

from pydantic import Field

from cellfleet.scenarios.base import Name, NonNegFloat, NonNegInt, PosFloat, _Model

# --------------------------------------------------------------------------------------------
# Rate plans


class Allowance(_Model):
    """A test allowance (seed 003: "a defined amount of traffic over a defined number of days").

    Exceeding any limit moves the SIM to Active-Billed; ``None`` means no limit of that kind.
    """

    data_bytes: NonNegInt | None = None
    """Data volume (uplink + downlink) in bytes."""
    sms_count: NonNegInt | None = None
    """Number of SMS."""
    days: PosFloat | None = None
    """Days spent in the state, counted from entering it."""


class Fees(_Model):
    """One-time fees charged at lifecycle actions (recorded as fee events)."""

    provision: NonNegFloat = 0.0
    """Provision fee (Provision from Initial or Cancelled)."""
    first_bill_activation: NonNegFloat = 0.0
    """First move into Active-Billed from Initial or Provisioned."""
    reactivation: NonNegFloat = 0.0
    """Later moves into Active-Billed, and Reprovision."""
    suspension: NonNegFloat = 0.0
    """Suspend (Active-Billed -> Suspended)."""
    unsuspend: NonNegFloat = 0.0
    """Unsuspend (Suspended -> Active-Billed)."""
    deactivation: NonNegFloat = 0.0
    """Cancel."""
    currency: str = Field(default="USD", min_length=1)
    """Currency of every fee above."""


class RatePlan(_Model):
    """A rate plan: the test allowances of its test states and its one-time fees."""

    name: Name
    """Name fleet groups refer to."""
    provisioned_allowance: Allowance | None = None
    """Test allowance in Provisioned; ``None`` = the SIM never defaults out of Provisioned."""
    suspended_allowance: Allowance | None = None
    """Test allowance in Suspended; ``None`` = the SIM never defaults out of Suspended."""
    fees: Fees = Fees()
    """One-time fees."""
