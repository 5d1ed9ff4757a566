"""``indiws run PLAN``: run an imaging plan through a service (docs/sequences.md)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from .plan import Frame, Plan, PlanError, frames, load_plan
from .runner import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PLAN,
    Manifest,
    Runner,
    RunOptions,
    autofocus_seconds,
    center_seconds,
    counted,
    estimate,
    focus_and_centering,
    hms,
)

__all__ = ["build_parser", "main"]


class _DefaultsShown(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in the help, except None (the help says what happens then)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or isinstance(action, argparse._StoreTrueAction):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="indiws run",
        description="Run an imaging plan (YAML, docs/sequences.md): the service runs it (frames "
        "in its frame store, resumed by the service after a restart) and this command follows "
        "it; with --out DIR (or --local) it runs here instead, writing frames and a manifest "
        "to DIR (run again with the same --out to resume).",
        epilog="Exit status: 0 every frame of the plan exists, 1 some are missing or failed, "
        "2 the plan cannot run (nothing moved), 3 the service was lost, 130 interrupted.",
        formatter_class=_DefaultsShown,
    )
    parser.add_argument("plan", type=Path, help="the plan file (YAML)")
    parser.add_argument(
        "--url",
        default=os.environ.get("INDIWS_URL", "http://127.0.0.1:7999"),
        help="the service (or $INDIWS_URL)",
    )
    parser.add_argument(
        "--token", default=None, help="the service's access token (or $INDIWS_TOKEN)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for frames and manifest (default: ./<plan name>)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="check the plan, print what would be done and how long it would take; move nothing",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=None,
        help="tries again per failed frame (default: the plan's, else 2)",
    )
    parser.add_argument(
        "--reconnect-timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="how long to wait for a lost service before giving up",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="how long to try the first connection",
    )
    parser.add_argument(
        "--detach",
        action="store_true",
        help="submit the plan to the service and return at once (it runs there; follow it "
        "with GET /api/v1/plans/<id>)",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="run the plan in this process, writing frames to --out (as before the service "
        "ran plans); implied by --out",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level",
    )
    return parser


class Reporter:
    """What the run shows: a live progress display on a terminal, plain
    time-stamped lines otherwise (CI logs, ``| tee``)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self.progress: Progress | None = None
        self.overall: TaskID | None = None
        self.current: TaskID | None = None
        self.plan: Plan | None = None
        self.left: list[Frame] = []
        self.total = 0

    def line(self, text: str, style: str = "") -> None:
        if self.progress is not None:
            self.progress.console.print(text, style=style or None, highlight=False, markup=False)
        elif self.live:
            self.console.print(text, style=style or None, highlight=False, markup=False)
        else:
            self.console.print(
                f"{datetime.now():%H:%M:%S} {text}", highlight=False, markup=False, soft_wrap=True
            )

    def __call__(self, kind: str, **data: Any) -> None:
        getattr(self, f"on_{kind.replace('-', '_')}", self.on_other)(**data)

    def on_other(self, **data: Any) -> None:
        pass

    def on_plan(self, plan: Plan, frames: list[Frame], todo: list[Frame], estimate: float) -> None:
        self.plan, self.left, self.total = plan, list(todo), len(frames)
        done = len(frames) - len(todo)
        self.line(
            f"plan {plan.source}: {counted(len(plan.targets), 'target')},"
            f" {counted(len(frames), 'frame')}"
            + (f" ({done} done already)" if done else "")
            + f", about {hms(estimate)} to go",
            "bold",
        )
        if self.live and todo:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[count]}"),
                # Time left from the exposures and the plan's estimate, not
                # from a rate of progress that a long exposure makes up.
                TextColumn("{task.fields[left]}"),
                console=self.console,
            )
            self.progress.start()
            self.overall = self.progress.add_task(
                "plan", total=len(todo), count=f"0/{len(todo)} frames", left=f"{hms(estimate)} left"
            )
            self.current = self.progress.add_task("", total=1, visible=False, count="", left="")

    def on_target(self, target: Any, frames: list[Frame]) -> None:
        where = ""
        if target.needs_sky and target.ra is not None:
            where = f" at RA {target.ra:.4f} h, Dec {target.dec:+.4f}° ({target.coordinates_from})"
        self.line(f"target {target.name}{where}: {counted(len(frames), 'frame')}", "bold cyan")

    def on_step(self, text: str) -> None:
        self.line(f"  {text}")

    on_note = on_step

    def on_skip(self, target: Any, text: str) -> None:
        self.line(f"  {text}", "yellow")

    def on_wait(self, until: Any, why: str) -> None:
        self.line(f"  waiting until {until:%Y-%m-%d %H:%M:%S} UTC for {why}")

    def on_reconnecting(self, timeout: float) -> None:
        self.line(f"  the service went away: waiting up to {timeout:g} s for it", "yellow")

    def on_reconnected(self) -> None:
        self.line("  reconnected")

    def _name(self, frame: Frame) -> str:
        e = frame.exposure
        kind = "" if e.frame_type == "light" else f" {e.frame_type}"
        return f"{frame.target.name}{kind} {e.filter or ''} {e.duration:g}s #{frame.index}".replace(
            "  ", " "
        )

    def on_expose(self, frame: Frame, attempt: int) -> None:
        again = f" (try {attempt})" if attempt > 1 else ""
        if self.progress is not None and self.current is not None:
            self.progress.update(
                self.current,
                description=self._name(frame),
                total=frame.exposure.duration,
                completed=0,
                visible=True,
                count=f"0/{frame.exposure.duration:g} s",
                left=f"{hms(frame.exposure.duration)} left",
            )
        else:
            self.line(f"  [{frame.number}/{self.total}] {self._name(frame)}: exposing{again}")

    def on_progress(self, frame: Frame, progress: dict[str, Any]) -> None:
        if self.progress is not None and self.current is not None:
            left = progress.get("time_left")
            if isinstance(left, int | float):
                done = max(0.0, frame.exposure.duration - left)
                count = f"{done:.1f}/{frame.exposure.duration:g} s"
                self.progress.update(
                    self.current, completed=done, count=count, left=f"{hms(left)} left"
                )
                if self.overall is not None and self.plan is not None:
                    rest = max(0.0, estimate(self.plan, self.left) - done)
                    self.progress.update(self.overall, left=f"{hms(rest)} left")

    def on_frame(self, frame: Frame, entry: dict[str, Any]) -> None:
        if frame in self.left:
            self.left.remove(frame)
        rest = hms(estimate(self.plan, self.left)) if self.plan else "?"
        left = counted(len(self.left), "frame")
        self.line(f"  saved {entry['file']} ({left} left, about {rest})", "green")
        if self.progress is not None and self.overall is not None:
            self.progress.advance(self.overall)
            task = self.progress.tasks[self.overall]
            self.progress.update(
                self.overall,
                count=f"{task.completed:.0f}/{task.total:.0f} frames",
                left=f"{rest} left",
            )

    def on_retry(self, frame: Frame, attempt: int, error: str, last: bool) -> None:
        what = "failed, recorded as failed" if last else "failed, trying again"
        self.line(f"  {self._name(frame)} {what}: {error}", "red" if last else "yellow")
        if last and frame in self.left:
            self.left.remove(frame)

    def on_autofocus(self, target: Any, reason: str) -> None:
        self.line(f"  autofocus ({reason})", "cyan")

    def on_focus(self, target: Any, progress: dict[str, Any]) -> None:
        state = progress.get("state")
        if state not in ("start", "measuring", "extending", "final"):
            return
        hfr = progress.get("hfr")
        shown = f"HFR {hfr:.2f}" if isinstance(hfr, int | float) else "no HFR"
        step = f" {progress['step']}" if progress.get("step") is not None else ""
        self.line(
            f"    focus {state}{step}: position {progress.get('position')}, {shown}"
            f" ({counted(progress.get('stars') or 0, 'star')})"
        )

    def on_focused(self, target: Any, result: dict[str, Any]) -> None:
        start = result.get("start") or {}
        before = start.get("hfr")
        was = f" (HFR {before:.2f} at {start.get('position')})" if before else ""
        self.line(
            f"  focused at {result.get('position')}: HFR {result.get('hfr', 0):.2f}{was}", "green"
        )

    def on_center(self, target: Any, progress: dict[str, Any]) -> None:
        if progress.get("state") == "solved" and isinstance(progress.get("error"), int | float):
            self.line(
                f"    centering try {progress.get('attempt')}: {progress['error']:.1f} arcsec off"
            )

    def on_rejected(self, frame: Frame, entry: dict[str, Any], last: bool) -> None:
        what = "no retake left, recorded as failed" if last else "taking it again"
        self.line(
            f"  {self._name(frame)} rejected ({entry['rejected']}), kept as {entry['file']}:"
            f" {what}",
            "red" if last else "yellow",
        )
        if last and frame in self.left:
            self.left.remove(frame)

    def on_end(self, result: Any) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        style = "bold green" if result.exit_code == EXIT_OK else "bold red"
        summary = f"{result.message}: {counted(len(result.taken), 'frame')} taken"
        if result.failed:
            summary += f", {len(result.failed)} failed"
        if result.missing:
            summary += f", {len(result.missing)} missing"
        self.line(summary, style)


def dry_run(plan: Plan, out: Path, console: Console) -> int:
    manifest = Manifest(out)
    if manifest.path.exists():
        manifest.load()
    done = manifest.done(out)
    all_frames = frames(plan)
    todo = [f for f in all_frames if f.file not in done]
    print_ = console.print
    print_(f"plan {plan.source}: checked, nothing moves (--dry-run)", style="bold", highlight=False)
    if plan.site:
        print_(
            f"  site: lat {plan.site.latitude:g}, lon {plan.site.longitude:g},"
            f" {plan.site.elevation:g} m"
        )
    if plan.camera.temperature is not None:
        wait = ", waiting for it" if plan.camera.wait_cooling else ""
        print_(f"  camera: cool to {plan.camera.temperature:g} °C{wait}")
    if plan.start:
        print_(f"  start at {plan.start:%Y-%m-%d %H:%M:%S} UTC")
    focus, centering = focus_and_centering(todo)
    for target in plan.targets:
        mine = [f for f in todo if f.target is target]
        where = "no slew (calibration frames)"
        if target.needs_sky and target.ra is not None:
            where = (
                f"slew to RA {target.ra:.4f} h, Dec {target.dec:+.4f}° ({target.coordinates_from})"
            )
        print_(f"  {target.name}: {where}", highlight=False)
        if target.start:
            print_(f"    start at {target.start:%Y-%m-%d %H:%M:%S} UTC")
        if target.min_altitude is not None and target.needs_sky:
            print_(f"    wait until above {target.min_altitude:g}°")
        if target.dither and target.needs_sky:
            d = target.dither
            print_(
                f"    dither every {counted(d.every, 'light frame')} by up to {d.offset:g} arcsec,"
                f" settle {d.settle:g} s"
            )
        if target.center and target.name in centering:
            c = target.center
            print_(
                f"    center by plate solving to {c.tolerance:g} arcsec, at most {c.attempts}"
                f" solves of {c.exposure:g} s; on failure: {c.on_failure}"
                f" (about {hms(center_seconds(target))})",
                highlight=False,
            )
        if target.autofocus and mine:
            print_(f"    {_autofocus_text(target, focus.get(target.name, 0))}", highlight=False)
        if target.quality:
            q = target.quality
            limits = [
                f"with HFR over {q.max_hfr:g}" if q.max_hfr else "",
                f"with fewer than {counted(q.min_stars, 'star')}" if q.min_stars else "",
            ]
            print_(
                f"    reject light frames {' or '.join(x for x in limits if x)},"
                f" retake up to {counted(q.retakes, 'time')}",
                highlight=False,
            )
        for e in target.exposures:
            total = e.count * target.repeat
            left = sum(1 for f in mine if f.exposure is e)
            print_(
                f"    {e.frame_type} {e.filter or '(no filter)'} {e.duration:g} s bin {e.binning}:"
                f" {counted(total, 'frame')}" + (f", {total - left} done" if left < total else ""),
                highlight=False,
            )
    if plan.park:
        print_("  park the mount at the end")
    print_(
        f"{len(todo)} of {len(all_frames)} frames to take into {out},"
        f" about {hms(estimate(plan, todo))}"
        f" ({sum(f.exposure.duration for f in todo):g} s of exposure)",
        style="bold",
        highlight=False,
    )
    return EXIT_OK


def _autofocus_text(target: Any, runs: int) -> str:
    af = target.autofocus
    when = [
        "at the start" if af.at_start else "",
        f"every {counted(af.every, 'light frame')}" if af.every else "",
        "on filter change" if af.on_filter_change else "",
        f"when the HFR rises {af.hfr_rise:g} %" if af.hfr_rise else "",
    ]
    sweep = counted(af.steps, "step") + (f" of {af.step}" if af.step else "")
    with_filter = f" with {af.filter}" if af.filter else ""
    return (
        f"autofocus {', '.join(w for w in when if w)}: {sweep}, {af.exposure:g} s{with_filter};"
        f" {counted(runs, 'run')} foreseen (about {hms(runs * autofocus_seconds(target))})"
        + (", more if the HFR rises" if af.hfr_rise else "")
    )


async def _run(runner: Runner, reporter: Reporter) -> int:
    loop = asyncio.get_running_loop()
    task = loop.create_task(runner.run())
    interrupts = 0

    def interrupt() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            reporter.line("interrupted again: exiting at once", "bold red")
            os._exit(EXIT_INTERRUPTED)
        reporter.line("interrupted: aborting what runs (Ctrl-C again to quit at once)", "bold red")
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupt)
    try:
        result = await task
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return result.exit_code


class ServiceReporter:
    """What following a plan run by the service shows: its events as lines,
    and on a terminal a progress bar of its frames."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.plain = Reporter(console)
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, kind: str, **data: Any) -> None:
        if kind == "event":
            self.plain.progress = self.progress
            self.plain.line(str(data["event"].get("message", "")))
        elif kind == "status":
            self._status(data["view"])
        elif kind == "lost":
            self.plain.line(
                f"the service is unreachable ({data['error']}): the plan goes on "
                "there; waiting for it",
                "yellow",
            )
        elif kind == "back":
            self.plain.line("the service is back")

    def _status(self, view: dict[str, Any]) -> None:
        if not self.console.is_terminal:
            return
        total = int(view.get("frames_total") or 0)
        done = int(view.get("frames_done") or 0) + int(view.get("frames_failed") or 0)
        if self.progress is None:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} frames"),
                TextColumn("{task.fields[left]}"),
                console=self.console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(view.get("name", "plan"), total=total, left="")
        assert self.task is not None
        current = view.get("current") or {}
        text = f"{view.get('name')} [{view.get('state')}]"
        if current:
            text += f" {current.get('name')} {current.get('state', '')}"
            if isinstance(current.get("time_left"), int | float):
                text += f" {hms(current['time_left'])} left"
        left = ""
        if view.get("eta"):
            with contextlib.suppress(ValueError):
                eta = datetime.fromisoformat(str(view["eta"]).replace("Z", "+00:00"))
                left = f"plan {hms((eta - datetime.now(UTC)).total_seconds())} left"
        self.progress.update(self.task, completed=done, total=total, description=text, left=left)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


async def _submit(args: argparse.Namespace, console: Console) -> int:
    """Submit the plan to the service; follow it unless --detach."""
    from .follow import FollowOptions, PlanFollower, ServiceError

    reporter = ServiceReporter(console)
    follower = PlanFollower(
        FollowOptions(
            url=args.url,
            token=args.token or os.environ.get("INDIWS_TOKEN"),
            detach=args.detach,
            reconnect_timeout=args.reconnect_timeout,
            connect_timeout=args.connect_timeout,
        ),
        reporter,
    )
    try:
        summary = await follower.submit(args.plan.read_bytes(), args.plan.name)
    except ServiceError as exc:
        problems = (exc.error.get("data") or {}).get("problems")
        if problems:
            lines = [
                f"{args.plan}:{p['line']}: {p['path']}: {p['message']}"
                if p.get("path")
                else f"{args.plan}:{p['line']}: {p['message']}"
                for p in problems
            ]
            print("indiws run: the plan cannot run:\n" + "\n".join(lines), file=sys.stderr)
            return EXIT_PLAN
        print(f"indiws run: the service refused the plan: {exc}", file=sys.stderr)
        return EXIT_PLAN
    except (ConnectionError, OSError) as exc:
        print(f"indiws run: the service is unreachable: {exc}", file=sys.stderr)
        return 3
    reporter.plain.line(
        f"plan {summary['name']} queued as {summary['id']}: {summary['frames_total']} frames"
    )
    if args.detach:
        print(summary["id"])
        return EXIT_OK
    loop = asyncio.get_running_loop()
    task = loop.create_task(follower.follow())
    interrupts = 0

    def interrupt() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            os._exit(EXIT_INTERRUPTED)
        reporter.plain.line("interrupted: aborting the plan (Ctrl-C again to quit at once)")
        loop.create_task(follower.abort())

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupt)
    try:
        code = await task
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        reporter.close()
    view = follower.view
    if code == 3:
        print("indiws run: the service is gone (the plan may go on there)", file=sys.stderr)
    elif code != EXIT_OK:
        print(f"indiws run: {view.get('message') or view.get('state')}", file=sys.stderr)
    else:
        reporter.plain.line(str(view.get("message") or "plan done"))
    return code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    console = Console(stderr=False)
    if not console.is_terminal:
        # A log or a pipe: one line per line, not wrapped at 80 columns mid-phrase.
        console.soft_wrap = True
    try:
        plan = load_plan(args.plan)
    except PlanError as exc:
        print(f"indiws run: the plan cannot run:\n{exc}", file=sys.stderr)
        return EXIT_PLAN
    out = args.out if args.out is not None else Path(args.plan.stem)
    if args.dry_run:
        return dry_run(plan, out, console)
    if not (args.local or args.out is not None):
        return asyncio.run(_submit(args, console))
    if args.retries is not None and args.retries < 0:
        print("indiws run: --retries must be 0 or more", file=sys.stderr)
        return EXIT_PLAN
    options = RunOptions(
        url=args.url,
        token=args.token,
        out=out,
        retries=args.retries,
        reconnect_timeout=args.reconnect_timeout,
        connect_timeout=args.connect_timeout,
    )
    reporter = Reporter(console)
    ignored = [
        key
        for key, on in (
            ("end", plan.end is not None),
            ("sun_max_altitude", plan.sun_max_altitude is not None),
            ("meridian_flip", plan.meridian_flip is not None),
            ("notify", bool(plan.notify)),
            ("guiding", plan.guiding is not None or any(t.guiding for t in plan.targets)),
        )
        if on
    ]
    if ignored:
        reporter.line(
            f"note: {', '.join(ignored)} only apply when the service runs the plan "
            "(without --out/--local); ignored here",
            "yellow",
        )
    try:
        runner = Runner(plan, options, report=reporter)
    except ValueError as exc:
        print(f"indiws run: {exc}", file=sys.stderr)
        return EXIT_PLAN
    code = asyncio.run(_run(runner, reporter))
    if code == EXIT_PLAN:
        print(f"indiws run: the plan cannot run:\n{runner.result.message}", file=sys.stderr)
    elif code != EXIT_OK:
        print(f"indiws run: {runner.result.message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
