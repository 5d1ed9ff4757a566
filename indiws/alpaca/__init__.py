"""ASCOM Alpaca: every role of the observatory as an Alpaca device
(docs/alpaca.md).  `protocol` holds the wire rules (no I/O), `members` the one
table of members per device type, `server` the tornado application and the
UDP discovery responder."""
