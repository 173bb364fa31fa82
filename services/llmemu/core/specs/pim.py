"""PIM command timing: how a bank-PIM device's attention GEMVs are issued and how long each
command group holds its channel (core/pim_commands.py prices them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PimCommands(BaseModel):
    """Per-channel command timing of bank-level PIM attention, in controller cycles.

    A K^T.q tile holds `page_elements / head_elements` heads of `banks` tokens and issues one
    compute group per head; an s.V tile holds `banks` head elements of one head and issues one
    group over up to `page_elements` tokens. Every tile opens a new row in every bank."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, allow_inf_nan=False)

    clock_hz: float = Field(gt=0, description="command clock, Hz")
    readout: Literal["fused", "separate"] = Field(
        description="fused: one compute-and-read-out command per group (dual row buffers); "
        "separate: one command per compute step plus one read-out (single row buffer)"
    )
    issue: Literal["per-channel", "one-per-cycle"] = Field(
        description="per-channel: every channel's commands are queued at once; one-per-cycle: "
        "the NPU hands over one PIM command per cycle, requests in channel order"
    )
    row_switch_cycles: int = Field(
        gt=0, description="closing every bank's row, the header and opening the next rows"
    )
    comp_cycles: int = Field(gt=0, description="between two compute steps on a channel")
    min_group_comps: int = Field(
        0, ge=0, description="fused: a group holds the channel for at least this many steps"
    )
    gwrite_cycles: int = Field(ge=0, description="loading a query or score vector, extra")
    page_elements: int = Field(gt=0, description="elements in one DRAM row")
    banks: int = Field(gt=0, description="banks per channel, each computing one row")
    comp_elements: int = Field(gt=0, description="elements one compute step covers per bank")
    head_elements: int = Field(gt=0, description="elements of one attention head")
