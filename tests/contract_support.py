"""The OpenAPI contract's fuzzer run (docs/http.md#the-contract), shared by
the two contract modules: `test_openapi_contract.py` fuzzes the document but
its verb routes, `test_openapi_contract_verbs.py` the verb routes (every
role's), each against a service of its own.

`VERB_ROUTE` splits the document in two; `expected_operations` is what one
side must have fuzzed: its operations of the document, less the ones
`schemathesis.toml` turns off.  Both sides together are so the whole
document less those exclusions.
"""

from __future__ import annotations

import json
import re
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from security_support import Answer, http

from indiws.testing import RunningService

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "schemathesis.toml"
JSON = {"Content-Type": "application/json"}
#: Where the service serves its OpenAPI document.
DOCUMENT = "/api/v1/openapi.json"
#: A declared verb's REST route: ``POST /api/v1/roles/{role}/{verb}`` (docs/verbs.md).
VERB_ROUTE = r"^/api/v1/roles/[a-z_]+/[a-z_]+$"
#: The mount's properties that are Busy while it moves.
MOTION = ("TELESCOPE_PARK", "EQUATORIAL_EOD_COORD", "HORIZONTAL_COORD", "TELESCOPE_MOTION_NS",
          "TELESCOPE_MOTION_WE", "TELESCOPE_HOME")  # fmt: skip
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


async def call(svc: RunningService, method: str, path: str, body: Any = None) -> Answer:
    """One request as a local program sends it; ``body`` as JSON."""
    data = None if body is None else json.dumps(body)
    return await http(svc.url + path, method, headers=JSON, body=data)


def load_config() -> SchemathesisConfig:
    """``schemathesis.toml``, its hooks file found from any working folder."""
    text = CONFIG.read_text().replace('hooks = "tests/', f'hooks = "{ROOT}/tests/')
    return SchemathesisConfig.from_str(text, base_dir=str(ROOT))


def turned_off() -> list[str]:
    """The path regexes of the operations `schemathesis.toml` turns off."""
    config = tomllib.loads(CONFIG.read_text())
    return [o["include-path-regex"] for o in config["operations"] if o.get("enabled") is False]


def expected_operations(document: dict[str, Any], verb_routes: bool) -> set[str]:
    """``"METHOD /path"`` of every operation of ``document`` on one side of
    `VERB_ROUTE` (the verb routes, or the rest), less those turned off."""
    off = turned_off()
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        if bool(re.search(VERB_ROUTE, path)) == verb_routes
        and not any(re.search(regex, path) for regex in off)
        for method in item
        if method in METHODS
    }


def fuzz(url: str, *, verb_routes: bool, max_examples: int) -> tuple[list[str], int, set[str]]:
    """Run schemathesis as ``schemathesis run <url> --checks all`` would with
    ``schemathesis.toml``, on the verb routes or on the rest of the document
    (`exclude`, never `include`: an include would turn back on what the
    config turns off): (every unique failure, number of cases, the
    operations fuzzed)."""
    config = load_config()
    project = config.projects.default
    project.checks.update(included_check_names=["all"])
    project.phases.update(phases=["examples", "coverage", "fuzzing"])
    project.generation.update(max_examples=max_examples)
    # From the document itself, not its URL: loaded from a URL, schemathesis
    # leaves out the operation that serves it (GET /api/v1/openapi.json).
    with urllib.request.urlopen(url, timeout=60) as answer:
        document = json.load(answer)
    project.update(base_url=url.removesuffix(DOCUMENT))
    schema = schemathesis.openapi.from_dict(document, config=config)
    if verb_routes:
        schema = schema.exclude(path_regex=f"^(?!{VERB_ROUTE.removeprefix('^')})")
    else:
        schema = schema.exclude(path_regex=VERB_ROUTE)
    failures: dict[tuple[str, str, str], str] = {}
    fuzzed: set[str] = set()
    cases = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            if event.label and event.recorder.checks:
                fuzzed.add(event.label)
            for case_id, checks in event.recorder.checks.items():
                cases += 1
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    key = (failure.operation, check.name, failure.title)
                    if key in failures:
                        continue
                    failures[key] = _describe(failure, check.name, event, case_id)
        elif isinstance(event, events.NonFatalError):
            failures[(event.label, "error", "")] = f"{event.label}: {event.info.message[:600]}"
        elif isinstance(event, events.FatalError):
            raise event.exception
    return list(failures.values()), cases, fuzzed


def _describe(failure: Any, check: str, event: Any, case_id: str) -> str:
    interaction = event.recorder.interactions.get(case_id)
    request = getattr(interaction, "request", None)
    response = getattr(interaction, "response", None)
    body = getattr(request, "body", None)
    content = getattr(response, "content", b"") or b""
    return (
        f"{failure.operation}: {check}: {failure.title}\n"
        f"  {failure.message.strip()[:600]}\n"
        f"  request: {getattr(request, 'method', '?')} {getattr(request, 'uri', '?')}"
        f" body={body!r:.300}\n"
        f"  answer: {getattr(response, 'status_code', '?')} {content[:300]!r}"
    )
