"""Client side of indiws: drive a service over the network from any Python.

- `Observatory` (async) and `SyncObservatory` (blocking, for scripts and
  notebooks): every ``/ws/indi_client/`` method as a typed call, progress,
  events, frames downloaded to files, reconnection (docs/client.md);
- `indiws.remote.plan` and `indiws.remote.runner`: imaging plans in YAML
  and ``indiws run PLAN`` (docs/sequences.md).

Nothing in this package imports the server side of indiws.
"""

from .client import Observatory
from .connection import (
    ActionCall,
    Connection,
    ConnectionLost,
    Notification,
    RemoteError,
    ServiceUnavailable,
)
from .sync import SyncObservatory

__all__ = [
    "ActionCall",
    "Connection",
    "ConnectionLost",
    "Notification",
    "Observatory",
    "RemoteError",
    "ServiceUnavailable",
    "SyncObservatory",
]
