"""What one message may hold: JSON depth and size, and the batch size.

Every JSON a client sends (a WebSocket message, an HTTP request body) is
parsed by `loads`, so each front gets the same limits and the same words
when it refuses.  The JSON of the APIs is shallow (a batch, a request, its
params, a property's values, a BLOB: five levels), so nesting is capped
well below what would exhaust Python's recursion in the parser or, later,
in the code that walks or echoes the value.  NaN and Infinity are not JSON
(RFC 8259) and are refused, though Python's parser takes them.

The checks cost a few ``str.count`` calls on an ordinary message; the
closer scan (strings blanked out, brackets walked) runs only when those
counts are over a limit, and costs about what the parse itself does.
The number of items is capped too: a message of ``[[],[],...]`` costs
about 60 bytes of memory per 3 bytes of text, so the cap, not the message
size, is what bounds a parse of a 64 MiB message (BLOB uploads).
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_BATCH", "MAX_DEPTH", "MAX_ITEMS", "JsonLimitError", "loads"]

#: Deepest nesting of arrays and objects in one message.
MAX_DEPTH = 32
#: Most items (values in arrays and objects) in one message, roughly: a
#: count of commas and opening brackets outside strings.
MAX_ITEMS = 100_000
#: Most requests in one JSON-RPC batch.
MAX_BATCH = 100

# A JSON string (escapes included); brackets and commas inside do not count.
# Possessive: linear time even on a string of escaped quotes (~150 MB/s).
_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class JsonLimitError(ValueError):
    """JSON refused for its shape (too deep, too many items), valid or not."""


def loads(
    text: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH, max_items: int = MAX_ITEMS
) -> Any:
    """Parse JSON, refusing what no API needs: `JsonLimitError` past the
    limits, `ValueError` for anything that is not JSON (NaN included)."""
    if not isinstance(text, str):
        text = text.decode("utf-8")  # UnicodeDecodeError is a ValueError
    _check_shape(text, max_depth, max_items)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:  # cannot happen below the depth cap; never crash on it
        raise JsonLimitError(_too_deep(max_depth)) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (numbers must be finite)")


def _too_deep(max_depth: int) -> str:
    return f"JSON nested more than {max_depth} levels deep (the API needs a few)"


def _check_shape(text: str, max_depth: int, max_items: int) -> None:
    opens = text.count("[") + text.count("{")
    if opens <= max_depth and opens + text.count(",") <= max_items:
        return  # the usual case: a few C-speed counts, brackets in strings included
    if '"' in text:
        text = _STRING.sub('""', text)
        opens = text.count("[") + text.count("{")
    if opens + text.count(",") > max_items:
        raise JsonLimitError(f"more than {max_items} items in one JSON message")
    if opens <= max_depth:
        return
    # At most 2 * max_items + 1 brackets are looked at: the opening ones are
    # counted above, and a closing one too many ends the scan.
    depth = 0
    for match in _BRACKET.finditer(text):
        if match.group() in "[{":
            depth += 1
            if depth > max_depth:
                raise JsonLimitError(_too_deep(max_depth))
        else:
            depth -= 1
            if depth < 0:
                return  # not JSON: the parser says where
