"""Alpaca's wire rules without a server: ids, parameters, the ImageBytes
frame and the refusal table (indiws.alpaca.protocol)."""

from __future__ import annotations

import numpy as np
import pytest

from indiws.alpaca.protocol import (
    IMAGE_BYTES_HEADER,
    INVALID_OPERATION,
    INVALID_VALUE,
    INVALID_WHILE_PARKED,
    NOT_CONNECTED,
    AlpacaError,
    BadRequest,
    Param,
    RequestIds,
    TransactionCounter,
    envelope,
    error_for,
    image_array,
    image_bytes,
    parse_ids,
    parse_params,
)
from indiws.devices.errors import (
    DeviceBusyError,
    DeviceNotConnectedError,
    DeviceStateError,
    InvalidValueError,
    RefusalReason,
    UnsafeError,
)


def test_ids_are_case_insensitive_in_a_query_and_exact_in_a_form() -> None:
    assert parse_ids({"clienttransactionid": "7", "CLIENTID": "3"}, put=False) == RequestIds(3, 7)
    assert parse_ids({"clienttransactionid": "7"}, put=True) == RequestIds(0, 0)
    assert parse_ids({"ClientTransactionID": "4294967295"}, put=True).client_transaction_id == (
        4294967295
    )
    for bad in ("", " ", "-1", "x", "4294967296", "1.5"):
        with pytest.raises(BadRequest):
            parse_ids({"ClientTransactionID": bad}, put=False)


def test_parameters_malformed_are_400_and_out_of_range_invalid_value() -> None:
    spec = (Param("Position", int, 0, 10), Param("Light", bool))
    assert parse_params(spec, {"position": "3", "light": "TRUE"}, put=False) == {
        "Position": 3,
        "Light": True,
    }
    assert parse_params(spec, {"Position": "3", "Light": "false", "x": "y"}, put=True) == {
        "Position": 3,
        "Light": False,
    }
    with pytest.raises(BadRequest):
        parse_params(spec, {"position": "3", "Light": "True"}, put=True)  # PUT names are exact
    with pytest.raises(BadRequest):
        parse_params(spec, {"Position": "three", "Light": "True"}, put=True)
    with pytest.raises(BadRequest):
        parse_params(spec, {"Position": "3", "Light": "1"}, put=True)
    with pytest.raises(AlpacaError) as exc:
        parse_params(spec, {"Position": "11", "Light": "True"}, put=True)
    assert exc.value.number == INVALID_VALUE


def test_envelope_and_server_transaction_ids() -> None:
    counter = TransactionCounter()
    ids = [counter.next() for _ in range(5)]
    assert ids == [1, 2, 3, 4, 5]
    body = envelope(None, RequestIds(1, 9), 6, AlpacaError(NOT_CONNECTED, "no"))
    assert body == {
        "ClientTransactionID": 9,
        "ServerTransactionID": 6,
        "ErrorNumber": NOT_CONNECTED,
        "ErrorMessage": "no",
    }
    assert envelope(1.5, RequestIds(), 7)["Value"] == 1.5
    assert "Value" not in envelope(None, RequestIds(), 8, has_value=False)


def test_image_array_is_indexed_x_then_y_and_imagebytes_keeps_that_order() -> None:
    fits_rows = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000  # 3 rows (y) of 4 (x)
    arr = image_array(fits_rows)
    assert arr.shape == (4, 3)
    assert arr[3][1] == fits_rows[1][3]  # ImageArray[x][y] is FITS pixel (x, y)
    data = image_bytes(arr, RequestIds(0, 5), 42)
    head = IMAGE_BYTES_HEADER.unpack_from(data)
    assert head == (1, 0, 5, 42, 44, 2, 8, 2, 4, 3, 0)  # Int32 image sent as UInt16
    wire = np.frombuffer(data, "<u2", offset=44).reshape(4, 3)
    assert np.array_equal(wire, arr)


def test_refusals_map_to_ascom_errors_in_one_table() -> None:
    def number(exc: BaseException) -> int:
        err = error_for(exc)
        assert err is not None
        return err.number

    assert number(InvalidValueError("bad")) == INVALID_VALUE
    assert number(DeviceNotConnectedError("x")) == NOT_CONNECTED
    parked = DeviceStateError("Telescope is parked: unpark it", reason=RefusalReason.PARKED)
    assert number(parked) == INVALID_WHILE_PARKED
    assert number(UnsafeError("unsafe")) == INVALID_OPERATION
    assert number(DeviceBusyError("busy")) == INVALID_OPERATION
    assert error_for(RuntimeError("bug")) is None


def test_alpaca_options_of_the_command_line() -> None:
    from indiws.__main__ import build_parser, check_args, config_from_args

    parser = build_parser()
    config = config_from_args(parser.parse_args([]))
    assert (config.alpaca_port, config.alpaca_discovery_port) == (11111, 32227)
    assert config.alpaca_host == "127.0.0.1"  # loopback unless the operator opens it
    args = parser.parse_args(["--alpaca-port", "0", "--alpaca-discovery-port", "0"])
    config = config_from_args(args)
    assert (config.alpaca_port, config.alpaca_discovery_port) == (None, None)
    with pytest.raises(SystemExit):
        check_args(parser, parser.parse_args(["--alpaca-port", "70000"]))
