"""What a config fixes about where and when rows are: built once per config, shared by the tables.

The fleet's layout (devices, channels, facilities), the devices' lifecycle in the registry, the
UTC offsets of every zone over the data's range and the readings' grid of ticks and anomaly
slots are pure functions of the config. :func:`grid` builds them on first use and returns the
same object for an equal config afterwards, so the ten tables of a demo (and a stream, and the
tests) do not rebuild them table by table.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property

from dbx_iot_gen.config import IoTConfig
from dbx_iot_gen.fleet import FleetLayout
from dbx_iot_gen.lifecycle import Lifecycle
from dbx_iot_gen.patterns import LocalTime

__all__ = ["Grid", "grid"]

# configs whose grid is kept (a demo uses one; the tests a few dozen)
_KEPT = 32
_grids: OrderedDict[str, Grid] = OrderedDict()


@dataclass(frozen=True)
class Grid:
    """The layout, lifecycle, local time and reading grid of one config (see :func:`grid`).

    Example:
        >>> g = grid(IoTConfig.preset("tiny"))
        >>> g.layout.n_channels * g.config.reading_ticks == g.layout.reading_rows
        True
    """

    config: IoTConfig

    @cached_property
    def layout(self) -> FleetLayout:
        """Devices, channels and facilities."""
        return FleetLayout(self.config)

    @cached_property
    def life(self) -> Lifecycle:
        """The devices' statuses and changes in the registry (``devices_cdc``)."""
        return Lifecycle(self.config)

    @cached_property
    def local_time(self) -> LocalTime:
        """The UTC offsets of every facility's zone over the data's range."""
        return LocalTime(self.config)

    @property
    def reading_slots(self) -> int:
        """Anomaly slots per channel: the readings' ticks cut into slots of
        ``anomalies.slot_readings`` (the last one may be short).

        Example:
            >>> grid(IoTConfig.preset("tiny")).reading_slots  # 288 ticks, slots of 64
            5
        """
        return -(-self.config.reading_ticks // self.config.anomalies.slot_readings)

    @property
    def drift_slots(self) -> int:
        """Drift slots per channel: the readings' ticks cut into slots of
        ``anomalies.drift_slot_readings`` (the last one may be short).

        Example:
            >>> grid(IoTConfig.preset("tiny")).drift_slots  # 288 ticks, drift slots of 256
            2
        """
        return -(-self.config.reading_ticks // self.config.anomalies.drift_slot_readings)

    @property
    def episode_cells(self) -> int:
        """Cells of the anomaly episodes' grid: every channel's slots, then its drift slots (an
        episode's ``anomaly_id`` is its cell's number, from 1)."""
        return self.layout.n_channels * (self.reading_slots + self.drift_slots)


def grid(config: IoTConfig) -> Grid:
    """The :class:`Grid` of ``config``: built on first use, the same object for an equal config.

    Example:
        >>> grid(IoTConfig.preset("tiny")) is grid(IoTConfig.preset("tiny"))
        True
    """
    key = json.dumps(config.to_dict(), sort_keys=True, default=str)
    found = _grids.get(key)
    if found is None:
        found = _grids[key] = Grid(config)
        while len(_grids) > _KEPT:
            _grids.popitem(last=False)
    else:
        _grids.move_to_end(key)
    return found
