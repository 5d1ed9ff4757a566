"""What one message may hold: JSON depth and size, and the batch size.

Every JSON a client sends (a WebSocket message, an HTTP request body) is
parsed by `loads`, so each front gets the same limits and the same words
when it refuses.  The JSON of the APIs is shallow (a batch, a request, its
params, a property's values, a BLOB: five levels), so nesting is capped
well below what would exhaust Python's recursion in the parser or, later,
in the code that walks or echoes the value.  NaN and Infinity are not JSON
(RFC 8259) and are refused, though Python's parser takes them, and so are
strings with a lone UTF-16 surrogate (``"\\ud800"``): no UTF-8 text holds
one, so an answer that echoed it could not be sent, nor a value given to
indiserver.

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

# The longest ``timeout`` a JSON-RPC call may ask for, in seconds: declared
# once, with the verbs' `Timeout`.
from ..verbs import MAX_TIMEOUT
from .errors import invalid_params

__all__ = [
    "MAX_BATCH",
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_TIMEOUT",
    "JsonLimitError",
    "check_timeout",
    "loads",
]


def check_timeout(value: float | None, what: str = "timeout") -> float | None:
    """The one check of every JSON-RPC timeout parameter: None, or a number
    of seconds within (0, `MAX_TIMEOUT`]."""
    if value is None:
        return None
    if not 0 < value <= MAX_TIMEOUT:  # also refuses NaN
        raise invalid_params(f"{what} must be within (0, {MAX_TIMEOUT:g}] seconds", param=what)
    return value


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
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:  # cannot happen below the depth cap; never crash on it
        raise JsonLimitError(_too_deep(max_depth)) from None
    # Only an escape (\uD800 to \uDFFF) makes a surrogate (a text frame or body is
    # strict UTF-8): the walk runs only when the text has one.
    if "\\ud" in text or "\\uD" in text:
        _refuse_lone_surrogates(value)
    return value


def _refuse_lone_surrogates(value: Any) -> None:
    """ValueError if a string (or key) in ``value`` holds a lone surrogate;
    a pair (an escaped emoji) makes one character and passes."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(
                    f"a string holds a lone UTF-16 surrogate "
                    f"({item[exc.start]!a}), which is not a character: {item[:40]!a}"
                ) from None


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
