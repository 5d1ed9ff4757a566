"""The web control panel: what a browser downloads for `/`, how soon it shows
live properties, and how soon a change reaches the page.

The service runs in its own process in embedded mode (its own indiserver
with the four simulators); Debian's chromium loads the panel through
Playwright.

* **bytes**: every response the page loads for `/` (the page, its modules,
  its style sheet, its icon), as sent on the wire, counted by the browser.
* **load → live properties**: from the start of navigation
  (``performance.now()`` is 0 there) to the first property card showing a
  value received over `/ws/debugging/`; median of the loads.
* **change → page**: a text property is set through the REST API; the time
  from the request to the moment the new text is in the page's DOM (a
  MutationObserver stamps it) beside the time to the same update reaching a
  bare `/ws/debugging/` WebSocket client in Python (the peer: the page adds
  its own parsing and rendering on top).  Both clocks are this machine's.

The last line is one JSON object with the figures.

    .venv/bin/python bench/panel.py            # 5 loads, 20 changes
    .venv/bin/python bench/panel.py --quick    # 2 loads, 5 changes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402
from tornado.websocket import websocket_connect  # noqa: E402

from indiws.browser_testing import ServiceProcess, launch_chromium  # noqa: E402

DEVICE, PROP, ELEM = "Filter Simulator", "FILTER_NAME", "FILTER_SLOT_NAME_8"


def page_bytes(context: Any, url: str) -> tuple[int, list[tuple[str, int]]]:
    page = context.new_page()
    sizes: list[tuple[str, int]] = []

    def done(request: Any) -> None:
        if request.url.startswith(("ws:", "wss:")):
            return
        sizes.append((request.url.replace(url, ""), request.sizes()["responseBodySize"]))

    page.on("requestfinished", done)
    page.goto(url + "/", wait_until="networkidle")
    page.close()
    return sum(s for _, s in sizes), sizes


def time_to_live(context: Any, url: str) -> float:
    page = context.new_page()
    page.goto(url + "/#devices", wait_until="commit")
    page.wait_for_function(
        "() => [...document.querySelectorAll('section.prop output.value')]"
        ".some(o => o.textContent.trim() !== '')",
        polling="raf",
    )
    ms = page.evaluate("performance.now()")
    page.close()
    return ms


def put_text(url: str, value: str) -> float:
    """Set the text; returns the wall-clock time (ms) the request was sent."""
    body = json.dumps({"values": {ELEM: value}, "wait": False}).encode()
    req = urllib.request.Request(
        f"{url}/api/v1/devices/Filter%20Simulator/properties/{PROP}", data=body, method="PUT"
    )
    sent = time.time() * 1000
    urllib.request.urlopen(req, timeout=10).read()
    return sent


class PeerClient:
    """A bare /ws/debugging/ client in its own thread: when did it see a value?"""

    def __init__(self, url: str) -> None:
        self.seen: dict[str, float] = {}
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._run(url), self.loop)
        self.ready.wait(10)

    async def _run(self, url: str) -> None:
        ws = await websocket_connect(
            url.replace("http", "ws") + f"/ws/debugging/?device=Filter%20Simulator&property={PROP}"
        )
        self.ready.set()
        while (text := await ws.read_message()) is not None:
            now = time.time() * 1000
            msg = json.loads(text)
            if msg.get("method") == "updated":
                for e in msg["params"]["elements"]:
                    if e["name"] == ELEM:
                        self.seen.setdefault(e["value"], now)


def change_latency(context: Any, url: str, rounds: int, peer: PeerClient) -> dict[str, float]:
    page = context.new_page()
    page.goto(url + "/#devices")
    page.locator(f'button.device[data-device="{DEVICE}"]').click()
    group = json.loads(
        urllib.request.urlopen(f"{url}/api/v1/devices/Filter%20Simulator/properties/{PROP}").read()
    )["group"]
    page.locator(f'button.tab[data-group="{group}"]').click()
    page.wait_for_selector(f'output[data-elem="{ELEM}"]')
    page.evaluate(
        """(elem) => {
          window.__seen = {};
          const out = document.querySelector(`output[data-elem="${elem}"]`);
          new MutationObserver(() => {
            window.__seen[out.textContent] ??= Date.now();
          }).observe(out, {childList: true, characterData: true, subtree: true});
        }""",
        ELEM,
    )
    page_ms: list[float] = []
    peer_ms: list[float] = []
    for i in range(rounds):
        value = f"bench-{i}-{time.monotonic_ns()}"
        sent = put_text(url, value)
        page.wait_for_function("(v) => window.__seen[v] !== undefined", arg=value)
        page_ms.append(page.evaluate("(v) => window.__seen[v]", value) - sent)
        deadline = time.monotonic() + 5
        while value not in peer.seen and time.monotonic() < deadline:
            time.sleep(0.005)
        peer_ms.append(peer.seen.get(value, float("nan")) - sent)
        time.sleep(0.05)
    page.close()
    return {
        "change_to_page_ms_median": statistics.median(page_ms),
        "change_to_page_ms_max": max(page_ms),
        "change_to_peer_ws_ms_median": statistics.median(peer_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 loads, 5 changes")
    args = parser.parse_args()
    loads, changes = (2, 5) if args.quick else (5, 20)
    with (
        tempfile.TemporaryDirectory(prefix="indiws-bench-panel-") as tmp,
        ServiceProcess(Path(tmp)) as svc,
        sync_playwright() as pw,
    ):
        context = launch_chromium(pw, Path(tmp) / "chromium")
        try:
            total, files = page_bytes(context, svc.url)
            print(f"panel at / : {len(files)} files, {total} bytes ({total / 1024:.1f} KiB)")
            for name, size in sorted(files, key=lambda f: -f[1]):
                print(f"  {size:7d}  {name}")
            times = [time_to_live(context, svc.url) for _ in range(loads)]
            live = statistics.median(times)
            print(
                f"load -> live properties shown: median {live:.0f} ms over {loads} loads "
                f"({', '.join(f'{t:.0f}' for t in times)})"
            )
            peer = PeerClient(svc.url)
            lat = change_latency(context, svc.url, changes, peer)
            print(
                f"REST change -> page DOM: median {lat['change_to_page_ms_median']:.1f} ms, "
                f"max {lat['change_to_page_ms_max']:.1f} ms; -> a bare /ws/debugging/ client: "
                f"median {lat['change_to_peer_ws_ms_median']:.1f} ms ({changes} changes)"
            )
        finally:
            context.close()
    summary = {
        "files": len(files),
        "bytes": total,
        "load_to_live_ms_median": round(live, 1),
        **{k: round(v, 2) for k, v in lat.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
