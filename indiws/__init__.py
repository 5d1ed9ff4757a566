"""indiws: INDI astronomy hardware behind HTTP and WebSocket APIs."""

__version__ = "0.1.0"
