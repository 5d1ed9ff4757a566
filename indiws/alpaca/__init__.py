"""ASCOM Alpaca: every role of the observatory as an Alpaca device
(docs/alpaca.md).  `protocol` holds the wire rules (no I/O), `device` an
Alpaca device's own state, `binding` how a member is bound to a declared
verb (its parameters derived from the verb's struct, one generic call),
`members` the one table of members per device type, `server` the tornado
application and the UDP discovery responder."""
