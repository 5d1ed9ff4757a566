"""A protocol checker for the Alpaca front, written from the ASCOM Alpaca API
reference and ConformU's protocol checks (ConformU itself cannot run here).

It walks every configured device and every member, twice over: the members
the reference lists (`REFERENCE`, written out here independently of
`indiws.alpaca.members`) must all be served, and nothing else; then it calls
them and checks the envelope and error rules.  `check(base)` returns the
issues found (an empty list: conformant).  It never calls a member that moves
hardware: of the PUT members it only checks that a malformed call is refused.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import requests

_COMMON_GET = (
    "connected connecting description devicestate driverinfo driverversion interfaceversion "
    "name supportedactions"
)
_COMMON_PUT = "action commandblind commandbool commandstring connected connect disconnect"

#: Device type -> (interface version, GET members, PUT members), from the
#: Alpaca API reference for ASCOM Platform 7 (beside the common members).
REFERENCE: dict[str, tuple[int, str, str]] = {
    "Telescope": (
        4,
        "alignmentmode altitude aperturearea aperturediameter athome atpark azimuth canfindhome "
        "canpark canpulseguide cansetdeclinationrate cansetguiderates cansetpark cansetpierside "
        "cansetrightascensionrate cansettracking canslew canslewaltaz canslewaltazasync "
        "canslewasync cansync cansyncaltaz canunpark canmoveaxis axisrates declination "
        "declinationrate destinationsideofpier doesrefraction equatorialsystem focallength "
        "guideratedeclination guideraterightascension ispulseguiding rightascension "
        "rightascensionrate sideofpier siderealtime siteelevation sitelatitude sitelongitude "
        "slewing slewsettletime targetdeclination targetrightascension tracking trackingrate "
        "trackingrates utcdate",
        "declinationrate guideratedeclination guideraterightascension rightascensionrate "
        "sideofpier siteelevation sitelatitude sitelongitude slewsettletime targetdeclination "
        "targetrightascension tracking trackingrate utcdate abortslew findhome moveaxis park "
        "pulseguide setpark slewtoaltaz slewtoaltazasync slewtocoordinates "
        "slewtocoordinatesasync slewtotarget slewtotargetasync synctoaltaz synctocoordinates "
        "synctotarget unpark",
    ),
    "Camera": (
        4,
        "bayeroffsetx bayeroffsety binx biny camerastate cameraxsize cameraysize "
        "canabortexposure canasymmetricbin canfastreadout cangetcoolerpower canpulseguide "
        "cansetccdtemperature canstopexposure ccdtemperature cooleron coolerpower "
        "electronsperadu exposuremax exposuremin exposureresolution fastreadout "
        "fullwellcapacity gain gainmax gainmin gains hasshutter heatsinktemperature imagearray "
        "imagearrayvariant imageready ispulseguiding lastexposureduration "
        "lastexposurestarttime maxadu maxbinx maxbiny numx numy offset offsetmax offsetmin "
        "offsets percentcompleted pixelsizex pixelsizey readoutmode readoutmodes sensorname "
        "sensortype setccdtemperature startx starty subexposureduration",
        "binx biny cooleron fastreadout gain numx numy offset readoutmode setccdtemperature "
        "startx starty subexposureduration abortexposure pulseguide startexposure stopexposure",
    ),
    "Focuser": (
        4,
        "absolute ismoving maxincrement maxstep position stepsize tempcomp tempcompavailable "
        "temperature",
        "tempcomp halt move",
    ),
    "FilterWheel": (3, "focusoffsets names position", "position"),
    "Dome": (
        3,
        "altitude athome atpark azimuth canfindhome canpark cansetaltitude cansetazimuth "
        "cansetpark cansetshutter canslave cansyncazimuth shutterstatus slaved slewing",
        "slaved abortslew closeshutter findhome openshutter park setpark slewtoaltitude "
        "slewtoazimuth synctoazimuth",
    ),
    "Rotator": (
        4,
        "canreverse ismoving mechanicalposition position reverse stepsize targetposition",
        "reverse halt move moveabsolute movemechanical sync",
    ),
    "CoverCalibrator": (
        2,
        "brightness calibratorchanging calibratorstate covermoving coverstate maxbrightness",
        "calibratoroff calibratoron closecover haltcover opencover",
    ),
    "ObservingConditions": (
        2,
        "averageperiod cloudcover dewpoint humidity pressure rainrate skybrightness skyquality "
        "skytemperature starfwhm temperature winddirection windgust windspeed "
        "sensordescription timesincelastupdate",
        "averageperiod refresh",
    ),
    "SafetyMonitor": (3, "issafe", ""),
}

#: The type of each property's Value, from the reference (per device type
#: where the types differ: a Rotator's Position is degrees, a Focuser's steps).
_TYPES = {
    bool: "athome atpark canfindhome canpark canpulseguide cansetdeclinationrate "
    "cansetguiderates cansetpark cansetpierside cansetrightascensionrate cansettracking canslew "
    "canslewaltaz canslewaltazasync canslewasync cansync cansyncaltaz canunpark canmoveaxis "
    "doesrefraction ispulseguiding slewing tracking connected connecting canabortexposure "
    "canasymmetricbin canfastreadout cangetcoolerpower cansetccdtemperature canstopexposure "
    "cooleron fastreadout hasshutter imageready absolute ismoving tempcomp tempcompavailable "
    "cansetaltitude cansetazimuth cansetshutter canslave cansyncazimuth slaved canreverse "
    "reverse calibratorchanging covermoving issafe",
    int: "alignmentmode equatorialsystem sideofpier slewsettletime trackingrate "
    "interfaceversion binx biny camerastate cameraxsize cameraysize gain gainmax gainmin maxadu "
    "maxbinx maxbiny numx numy offset offsetmax offsetmin percentcompleted readoutmode "
    "sensortype startx starty bayeroffsetx bayeroffsety maxincrement maxstep shutterstatus "
    "brightness calibratorstate coverstate maxbrightness",
    float: "altitude azimuth aperturearea aperturediameter declination declinationrate "
    "focallength guideratedeclination guideraterightascension rightascension "
    "rightascensionrate siderealtime siteelevation sitelatitude sitelongitude "
    "targetdeclination targetrightascension ccdtemperature coolerpower electronsperadu "
    "exposuremax exposuremin exposureresolution fullwellcapacity heatsinktemperature "
    "lastexposureduration pixelsizex pixelsizey setccdtemperature subexposureduration "
    "temperature mechanicalposition targetposition averageperiod cloudcover dewpoint humidity "
    "pressure rainrate skybrightness skyquality skytemperature starfwhm winddirection windgust "
    "windspeed timesincelastupdate stepsize",
    str: "description driverinfo driverversion name utcdate lastexposurestarttime sensorname "
    "sensordescription",
    list: "supportedactions trackingrates axisrates readoutmodes gains offsets names "
    "focusoffsets devicestate",
}
VALUE_TYPES: dict[str, type] = {name: t for t, names in _TYPES.items() for name in names.split()}
POSITION_TYPES = {"Rotator": float, "Focuser": int, "FilterWheel": int}

#: The ASCOM error numbers a device may answer (0x500..0xFFF: driver errors).
ASCOM_ERRORS = {0x400, 0x401, 0x402, 0x407, 0x408, 0x409, 0x40A, 0x40B, 0x40C, 0x40E}
ENVELOPE_KEYS = {"ClientTransactionID", "ServerTransactionID", "ErrorNumber", "ErrorMessage"}
#: PUT members without parameters that stop or only read: called as they are.
STOPS = {
    "abortslew",
    "halt",
    "haltcover",
    "abortexposure",
    "stopexposure",
    "refresh",
    "calibratoroff",
}
#: PUT members without parameters that move hardware: never called here
#: (the alpyca tests drive the ones that matter on the simulators).
MOVES = {
    "park",
    "unpark",
    "findhome",
    "setpark",
    "slewtotarget",
    "slewtotargetasync",
    "synctotarget",
    "openshutter",
    "closeshutter",
    "opencover",
    "closecover",
}

#: Members whose GET takes a parameter, and a valid value for it.
GET_PARAMS = {
    "axisrates": {"Axis": "0"},
    "canmoveaxis": {"Axis": "0"},
    "destinationsideofpier": {"RightAscension": "1", "Declination": "10"},
    "sensordescription": {"SensorName": "Temperature"},
    "timesincelastupdate": {"SensorName": ""},
}


def reference_members(device_type: str) -> set[tuple[str, str]]:
    _, gets, puts = REFERENCE[device_type]
    out = {(m, "GET") for m in (_COMMON_GET + " " + gets).split()}
    return out | {(m, "PUT") for m in (_COMMON_PUT + " " + puts).split()}


@dataclass
class Checker:
    base: str
    issues: list[str] = field(default_factory=list)
    #: Requests made and the members they reached, to show the walk was whole.
    calls: int = 0
    reached: set[tuple[str, str, str]] = field(default_factory=set)
    session: requests.Session = field(default_factory=requests.Session)
    ctid: itertools.count = field(default_factory=lambda: itertools.count(1))
    last_stid: int = 0

    def issue(self, where: str, text: str) -> None:
        self.issues.append(f"{where}: {text}")

    def call(
        self, http: str, path: str, params: dict[str, str] | None = None, *, expect: int = 200
    ) -> dict[str, Any] | None:
        ctid = next(self.ctid)
        self.calls += 1
        parts = path.split("/")
        if len(parts) == 6 and parts[1] == "api":
            self.reached.add((parts[3], http, parts[5]))
        fields = {"ClientID": "4242", "ClientTransactionID": str(ctid), **(params or {})}
        url = self.base + path
        if http == "GET":
            r = self.session.get(url, params=fields, timeout=30)
        else:
            r = self.session.put(url, data=fields, timeout=30)
        where = f"{http} {path}"
        if r.status_code != expect:
            self.issue(where, f"HTTP {r.status_code}, expected {expect}: {r.text[:200]}")
            return None
        if expect != 200:
            return None
        if not r.headers.get("Content-Type", "").startswith("application/json"):
            self.issue(where, f"Content-Type {r.headers.get('Content-Type')!r}")
            return None
        body = r.json()
        missing = ENVELOPE_KEYS - body.keys()
        if missing:
            self.issue(where, f"envelope lacks {sorted(missing)}")
            return body
        if body["ClientTransactionID"] != ctid:
            self.issue(where, f"ClientTransactionID {body['ClientTransactionID']} != {ctid}")
        stid = body["ServerTransactionID"]
        if not isinstance(stid, int) or stid < 1 or stid <= self.last_stid:
            self.issue(where, f"ServerTransactionID {stid} not above {self.last_stid}")
        self.last_stid = stid if isinstance(stid, int) else self.last_stid
        number, message = body["ErrorNumber"], body["ErrorMessage"]
        if not isinstance(number, int) or not isinstance(message, str):
            self.issue(where, "ErrorNumber/ErrorMessage of the wrong type")
        elif number and number not in ASCOM_ERRORS and not 0x500 <= number <= 0xFFF:
            self.issue(where, f"ErrorNumber {number:#x} is not an ASCOM error")
        elif number and not message:
            self.issue(where, "an error without ErrorMessage")
        elif not number and message:
            self.issue(where, f"ErrorMessage {message!r} without an error")
        return body

    # ------------------------------------------------------------- checks

    def check_management(self) -> list[dict[str, Any]]:
        body = self.call("GET", "/management/apiversions")
        if body is not None and body.get("Value") != [1]:
            self.issue("apiversions", f"Value {body.get('Value')!r}")
        body = self.call("GET", "/management/v1/description")
        if body is not None and not {
            "ServerName",
            "Manufacturer",
            "ManufacturerVersion",
            "Location",
        } <= set(body.get("Value", {})):
            self.issue("description", f"Value {body.get('Value')!r}")
        body = self.call("GET", "/management/v1/configureddevices")
        devices = (body or {}).get("Value", [])
        for d in devices:
            if set(d) != {"DeviceName", "DeviceType", "DeviceNumber", "UniqueID"}:
                self.issue("configureddevices", f"entry {d!r}")
        return devices

    def check_urls(self, device_type: str, number: int) -> None:
        t = device_type.lower()
        self.call("GET", f"/api/v1/{device_type.upper()}/{number}/description", expect=400)
        self.call("GET", "/api/v1/baddevicetype/0/description", expect=400)
        self.call("GET", f"/api/v1/{t}/99999/description", expect=400)
        self.call("GET", f"/api/v1/{t}/-1/description", expect=400)
        self.call("GET", f"/api/v1/{t}/A/description", expect=400)
        self.call("GET", f"/api/v1/{t}/{number}/descrip", expect=400)
        for bad in ("", "  ", "-1", "qweqwe", "4294967296"):
            self.call(
                "GET", f"/api/v1/{t}/{number}/description", {"ClientTransactionID": bad}, expect=400
            )
        # GET parameter names are case insensitive.
        r = self.session.get(
            f"{self.base}/api/v1/{t}/{number}/description",
            params={"clienttransactionid": "77", "clientid": "1"},
            timeout=10,
        )
        if r.status_code != 200 or r.json().get("ClientTransactionID") != 77:
            self.issue(f"{t} lower-case GET ids", f"{r.status_code} {r.text[:100]}")
        # PUT parameter names are case sensitive: a mis-cased id is ignored...
        r = self.session.put(
            f"{self.base}/api/v1/{t}/{number}/connected",
            data={"clienttransactionid": "78", "Connected": "True"},
            timeout=30,
        )
        if r.status_code != 200 or r.json().get("ClientTransactionID") != 0:
            self.issue(f"{t} mis-cased PUT id", f"{r.status_code} {r.text[:100]}")
        # ...and a mis-cased required parameter is a 400.
        self.call("PUT", f"/api/v1/{t}/{number}/connected", {"connected": "True"}, expect=400)
        for bad in ("", "123456", "asdqwe"):
            self.call("PUT", f"/api/v1/{t}/{number}/connected", {"Connected": bad}, expect=400)
        # A member under the other HTTP verb is not a member.
        self.call("PUT", f"/api/v1/{t}/{number}/description", expect=400)
        self.call("GET", f"/api/v1/{t}/{number}/disconnect", expect=400)

    def check_device(self, device_type: str, number: int, served: set[tuple[str, str]]) -> None:
        t = device_type.lower()
        reference = reference_members(device_type)
        for name, http in sorted(reference - served):
            self.issue(f"{device_type}", f"{http} {name} of the reference is not in the table")
        for name, http in sorted(served - reference):
            self.issue(f"{device_type}", f"{http} {name} is not a member of the reference")
        # Not connected: the reference's NotConnected for every operational member.
        self.call("PUT", f"/api/v1/{t}/{number}/connected", {"Connected": "False"})
        body = self.call("GET", f"/api/v1/{t}/{number}/connected")
        if body is not None and body.get("Value") is not False:
            self.issue(f"{t} connected", "still True after Connected=False")
        first = sorted(n for n, h in reference if h == "GET" and n not in _COMMON_GET.split())
        if first and first[0] not in GET_PARAMS and first[0] not in ("imagearray",):
            body = self.call("GET", f"/api/v1/{t}/{number}/{first[0]}")
            if first[0] == "issafe":
                # ISafetyMonitor: not connected is not safe (False, no error).
                if body is not None and (body["ErrorNumber"], body.get("Value")) != (0, False):
                    self.issue(f"{t} issafe", f"not connected gave {body!r}")
            elif body is not None and body["ErrorNumber"] not in (0x407, 0x400):
                self.issue(f"{t} {first[0]}", f"not connected gave {body['ErrorNumber']:#x}")
        self.call("PUT", f"/api/v1/{t}/{number}/connected", {"Connected": "True"})
        # Platform 7: Disconnect, then Connect, which reports through Connecting.
        self.call("PUT", f"/api/v1/{t}/{number}/disconnect")
        self.call("PUT", f"/api/v1/{t}/{number}/connect")
        for _ in range(300):
            body = self.call("GET", f"/api/v1/{t}/{number}/connecting")
            if body is None or body.get("Value") is False:
                break
        body = self.call("GET", f"/api/v1/{t}/{number}/connected")
        if body is not None and body.get("Value") is not True:
            self.issue(f"{t} connect", "Connected is not True once Connecting ended")
        version = REFERENCE[device_type][0]
        body = self.call("GET", f"/api/v1/{t}/{number}/interfaceversion")
        if body is not None and body.get("Value") != version:
            self.issue(f"{t} interfaceversion", f"{body.get('Value')} != {version}")
        for name, http in sorted(reference):
            path = f"/api/v1/{t}/{number}/{name}"
            if http == "GET":
                body = self.call("GET", path, GET_PARAMS.get(name))
                if body is not None and body["ErrorNumber"] == 0:
                    if "Value" not in body:
                        self.issue(path, "a property answered without Value")
                    elif name != "imagearray" and name != "imagearrayvariant":
                        self._check_type(device_type, name, path, body["Value"])
            elif name in STOPS:
                self.call("PUT", path)
            elif name not in ("connected", "connect", "disconnect") and name not in MOVES:
                # A PUT with no parameters at all: members that take some
                # must refuse it (400) rather than act on defaults.
                if not self._put_takes_params(device_type, name):
                    self.issue(path, "a PUT member neither known to stop, move nor take parameters")
                self.call("PUT", path, {}, expect=400)
        if device_type == "Telescope":
            # A value that is no number is malformed (400); one out of range is
            # the ASCOM InvalidValue error.
            path = f"/api/v1/{t}/{number}/targetrightascension"
            self.call("PUT", path, {"TargetRightAscension": "abc"}, expect=400)
            body = self.call("PUT", path, {"TargetRightAscension": "25"})
            if body is not None and body["ErrorNumber"] != 0x401:
                self.issue(path, f"RA 25 h gave {body['ErrorNumber']:#x}, not InvalidValue")
            body = self.call("PUT", path, {"TargetRightAscension": "5.5"})
            body = self.call("GET", path)
            if body is not None and body.get("Value") != 5.5:
                self.issue(path, f"read back {body.get('Value')!r}, not 5.5")
        if device_type == "Telescope":
            self.check_move_axis(t, number)
        body = self.call("GET", f"/api/v1/{t}/{number}/devicestate")
        for item in (body or {}).get("Value", []):
            if set(item) != {"Name", "Value"}:
                self.issue(f"{t} devicestate", f"item {item!r}")

    def check_move_axis(self, t: str, number: int) -> None:
        """CanMoveAxis and AxisRates for each axis (rates: Minimum ≤ Maximum,
        none negative; none where the axis cannot move); MoveAxis refusing an
        unknown axis and a rate outside AxisRates (0x401, or 0x408 while
        parked) and taking Rate 0, a stop.  Nothing here moves the mount."""
        base = f"/api/v1/{t}/{number}"
        body = self.call("GET", f"{base}/atpark")
        parked = bool(body and body.get("Value"))
        for axis in ("0", "1", "2"):
            can = (self.call("GET", f"{base}/canmoveaxis", {"Axis": axis}) or {}).get("Value")
            rates = (self.call("GET", f"{base}/axisrates", {"Axis": axis}) or {}).get("Value")
            if not isinstance(rates, list):
                continue
            for rate in rates:
                if set(rate) != {"Minimum", "Maximum"} or not (
                    0 <= rate["Minimum"] <= rate["Maximum"]
                ):
                    self.issue(f"{base}/axisrates", f"axis {axis}: rate {rate!r}")
            if can is False and rates:
                self.issue(f"{base}/axisrates", f"axis {axis} cannot move but has rates")
            if not can:
                continue
            top = max((r["Maximum"] for r in rates), default=0)
            for rate, wanted in ((str(top * 10 + 1), 0x401), ("0", 0)):
                body = self.call("PUT", f"{base}/moveaxis", {"Axis": axis, "Rate": rate})
                expected = 0x408 if parked else wanted
                if body is not None and body["ErrorNumber"] != expected:
                    self.issue(
                        f"{base}/moveaxis",
                        f"axis {axis} rate {rate} gave {body['ErrorNumber']:#x}, not {expected:#x}",
                    )
        for axis in ("7", "-1"):  # not a TelescopeAxes value: InvalidValue
            for http, member, fields in (
                ("GET", "canmoveaxis", {"Axis": axis}),
                ("GET", "axisrates", {"Axis": axis}),
                ("PUT", "moveaxis", {"Axis": axis, "Rate": "0"}),
            ):
                body = self.call(http, f"{base}/{member}", fields)
                if body is not None and body["ErrorNumber"] != 0x401:
                    self.issue(f"{base}/{member}", f"axis {axis} gave {body['ErrorNumber']:#x}")
        self.call("PUT", f"{base}/moveaxis", {"Axis": "0", "Rate": "fast"}, expect=400)

    def _check_type(self, device_type: str, name: str, path: str, value: Any) -> None:
        wanted = POSITION_TYPES[device_type] if name == "position" else VALUE_TYPES.get(name)
        if wanted is None:
            self.issue(path, "no type known for this member")
            return
        ok = isinstance(value, wanted) and not (wanted is int and isinstance(value, bool))
        if wanted is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok:
            self.issue(path, f"Value {value!r} is not a {wanted.__name__}")

    @staticmethod
    def _put_takes_params(device_type: str, name: str) -> bool:
        takes = {
            "action",
            "commandblind",
            "commandbool",
            "commandstring",
            "declinationrate",
            "guideratedeclination",
            "guideraterightascension",
            "rightascensionrate",
            "sideofpier",
            "siteelevation",
            "sitelatitude",
            "sitelongitude",
            "slewsettletime",
            "targetdeclination",
            "targetrightascension",
            "tracking",
            "trackingrate",
            "utcdate",
            "moveaxis",
            "pulseguide",
            "slewtoaltaz",
            "slewtoaltazasync",
            "slewtocoordinates",
            "slewtocoordinatesasync",
            "synctoaltaz",
            "synctocoordinates",
            "binx",
            "biny",
            "cooleron",
            "fastreadout",
            "gain",
            "numx",
            "numy",
            "offset",
            "readoutmode",
            "setccdtemperature",
            "startx",
            "starty",
            "subexposureduration",
            "startexposure",
            "tempcomp",
            "move",
            "position",
            "slaved",
            "slewtoaltitude",
            "slewtoazimuth",
            "synctoazimuth",
            "reverse",
            "moveabsolute",
            "movemechanical",
            "sync",
            "calibratoron",
            "averageperiod",
        }
        return name in takes


def check(base: str, served: dict[str, set[tuple[str, str]]]) -> Checker:
    """Walk the Alpaca server at ``base`` (http://host:port): its ``issues``
    (none: conformant), ``calls`` and the members ``reached``; ``served``:
    the members each type's table declares."""
    checker = Checker(base)
    devices = checker.check_management()
    seen = {d["DeviceType"] for d in devices}
    for device_type in REFERENCE:
        if device_type not in seen:
            checker.issue("configureddevices", f"no {device_type}")
    for d in devices:
        checker.check_urls(d["DeviceType"], d["DeviceNumber"])
        checker.check_device(d["DeviceType"], d["DeviceNumber"], served[d["DeviceType"]])
    return checker
