"""Server and driver management: the indiserver process, its FIFO, the driver catalog.

- :mod:`indiws.manager.catalog`: drivers listed in INDI's ``drivers.xml``.
- :mod:`indiws.manager.server`: :class:`IndiServerSupervisor`, which runs
  ``indiserver`` as a supervised child process and starts and stops drivers
  through its FIFO.

Profiles and role assignments are stored by :mod:`indiws.db`.  See
``docs/manager.md`` for the design.
"""

from indiws.manager.catalog import DriverCatalog, DriverInfo
from indiws.manager.server import (
    DriverError,
    DriverInstance,
    DriverNotAllowedError,
    DriverNotFoundError,
    DriverState,
    FifoError,
    IndiServerError,
    IndiServerNotFoundError,
    IndiServerStartError,
    IndiServerSupervisor,
    InvalidDriverNameError,
    PortInUseError,
    ProfileStartError,
    SupervisorEvent,
    choose_port,
    find_free_port,
    port_is_free,
)

__all__ = [
    "DriverCatalog",
    "DriverError",
    "DriverInfo",
    "DriverInstance",
    "DriverNotAllowedError",
    "DriverNotFoundError",
    "DriverState",
    "FifoError",
    "IndiServerError",
    "IndiServerNotFoundError",
    "IndiServerStartError",
    "IndiServerSupervisor",
    "InvalidDriverNameError",
    "PortInUseError",
    "ProfileStartError",
    "SupervisorEvent",
    "choose_port",
    "find_free_port",
    "port_is_free",
]
