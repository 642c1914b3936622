"""`python -m deploy.local.functions TARGET [--signature-type TYPE] [--source main.py] [--port N]`: a Cloud
Function locally, under the real functions-framework, with the local Datastore and Cloud Tasks wired.

Starts the Datastore emulator (data in `<app-dir>/.datastore/`) and, when present, the Cloud Tasks emulator
(App Engine tasks delivered to this function's URL), exports their hosts and GOOGLE_CLOUD_PROJECT, then
runs `functions-framework --target TARGET` on 127.0.0.1:PORT (default $PORT or 8080) until Ctrl-C. An
ndb route of the function then talks to the local Datastore instead of failing with "No current context".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from deploy.local import output
from deploy.local.emulators import EmulatorError, start_datastore, start_tasks
from deploy.local.processes import Child
from deploy.local.runner import StartError, bind
from deploy.local.venvs import KIT_BIN, KIT_ROOT

SIGNATURES = ("http", "event", "cloudevent", "typed")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.functions", description=__doc__.splitlines()[0])
    parser.add_argument("target", help="the function's name in the source file (functions-framework --target)")
    parser.add_argument("--source", default="main.py", help="the file defining it, relative to --app-dir (main.py)")
    parser.add_argument("--signature-type", choices=SIGNATURES, default=None,
                        help="http (default), event, cloudevent or typed; a decorator in the source wins")
    parser.add_argument("--app-dir", type=Path, default=KIT_ROOT, help="the function's folder (default: this kit's)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8080),
                        help="port on 127.0.0.1 (default $PORT, else 8080)")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> int:
    app_dir = args.app_dir.resolve()
    source = app_dir / args.source
    if not source.is_file():
        raise StartError(f"{source}: no such file\n  fix: pass --app-dir and --source of the function's code")
    # Take the port before starting anything (one clear error when it is in use), hand it over at exec time.
    probe = bind(args.port)
    probe.close()
    env = dict(os.environ)
    env.setdefault("GOOGLE_CLOUD_PROJECT", "local-project")
    env["LOCAL_PLATFORM_TOKEN"] = secrets.token_urlsafe(24)
    url = f"http://127.0.0.1:{args.port}"
    children: list[Child] = []
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        for start in (start_datastore(app_dir, env, KIT_ROOT),
                      start_tasks(app_dir, env, KIT_ROOT, front_end_url=url, queue_yaml=None)):
            child = await start
            if child is not None:
                children.append(child)
        env["PATH"] = os.pathsep.join([str(KIT_BIN), env.get("PATH", os.defpath)])
        argv = [str(KIT_BIN / "functions-framework"), "--target", args.target, "--source", str(source),
                "--host", "127.0.0.1", "--port", str(args.port)]
        if args.signature_type:
            argv += ["--signature-type", args.signature_type]
        function = Child(args.target, argv, env=env, cwd=app_dir)
        children.append(function)
        await function.start()
        if not await _listening(args.port, function):
            raise StartError(f"functions-framework exited with status {function.proc.returncode if function.proc else '?'} "
                             "(its output is above)")
        output.runner(f"Serving function {args.target} on {url}/  (Ctrl-C to stop)")
        exited = asyncio.create_task(function.wait())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        return 0 if stop.is_set() else 1
    except EmulatorError as exc:
        raise StartError(str(exc)) from None
    finally:
        await asyncio.gather(*(child.stop() for child in reversed(children)), return_exceptions=True)


async def _listening(port: int, child: Child, timeout: float = 60.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline and child.running:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(serve(args))
    except StartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
