"""schemathesis hooks of the contract test (loaded through schemathesis.toml).

A few rules of the OpenAPI document are formats because JSON Schema cannot
state them whole (a device name is at most 63 bytes of UTF-8; ``maxLength``
counts characters): here the fuzzer learns to generate valid values for
them, with the checks the service itself applies (`indiws.db`), and sends
no remote driver (``Device@host``: the service would connect to that host)
and forces no move (``"force": true`` is sent as false).
"""

from __future__ import annotations

from collections.abc import Callable

import schemathesis
from hypothesis import strategies as st

from indiws.db import check_device_name, check_remote_spec
from indiws.web import bodies


def _passes(check: Callable[[str], object]) -> Callable[[str], bool]:
    def ok(value: str) -> bool:
        try:
            check(value)
        except ValueError:
            return False
        return True

    return ok


_names = st.from_regex(bodies.DEVICE_NAME_PATTERN, fullmatch=True).filter(
    _passes(check_device_name)
)
_remote = st.builds(
    lambda name, host, port: f"{name}@{host}" + ("" if port is None else f":{port}"),
    _names.filter(lambda n: "," not in n),
    st.from_regex(bodies.HOST_PATTERN, fullmatch=True),
    st.none() | st.integers(1, 65535),
).filter(_passes(check_remote_spec))

schemathesis.openapi.format(bodies.DEVICE_NAME_FORMAT, _names)
# Executables the fuzzer sends are local programs: a remote one (Device@host)
# would make the service connect to whatever host it generated.
schemathesis.openapi.format(
    bodies.EXECUTABLE_FORMAT, st.from_regex(bodies.LOCAL_EXECUTABLE_PATTERN, fullmatch=True)
)
schemathesis.openapi.format(bodies.REMOTE_DRIVER_FORMAT, _remote)
schemathesis.openapi.format(
    bodies.REMOTE_DRIVERS_FORMAT, st.lists(_remote, min_size=1, max_size=3).map(",".join)
)


@schemathesis.hook
def before_call(ctx: object, case: schemathesis.Case, **kwargs: object) -> None:
    """No request of the fuzzer forces a move: ``"force": true`` is sent as
    false (as valid), so the safety policy's refusal holds for every verb
    and property write it sends (docs/http.md#the-contract)."""
    if isinstance(case.body, dict) and case.body.get("force") is True:
        case.body["force"] = False
