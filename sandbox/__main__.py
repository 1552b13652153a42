"""``python -m sandbox``: run and drive the local sandboxes.

  serve   [--port 8443] [--state-dir .sandbox] [--seed demo|test|bench|FILE]   run in the foreground
  seed    (demo|test|bench|FILE) [--seed N] [--no-reset]         load a scenario into both sandboxes
  faults  add TARGET KIND [--count N] | random RATE KIND[,KIND] [--seed N] | clear | show
  reset
The running server's address and CA are written to ``<state-dir>/endpoints.json`` for the other commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sandbox.seed import default_state_dir


def scenario_spec(name_or_file: str, seed: int, creds, callback_url: str | None = None) -> dict:
    """The LINE WORKS part of a scenario (:func:`sandbox.seed.load_scenario`) plus our app and bot."""
    from sandbox.seed import load_scenario, split_scenario

    spec, _ = split_scenario(load_scenario(name_or_file, seed))
    spec.setdefault("apps", []).append(creds.app_spec())
    spec.setdefault("bots", []).append(creds.bot_spec(callback_url))
    return spec


def _control(state_dir: Path):
    from sandbox.control_client import SandboxControl

    endpoints = json.loads((state_dir / "endpoints.json").read_text())
    return SandboxControl(endpoints["lineworks"]["url"], endpoints["ca_bundle"])


def serve(
    state_dir: Path, host: str, port: int, salesforce_port: int | None, scenario: str | None, seed_value: int
) -> int:
    """Both sandboxes in this process, until SIGINT/SIGTERM."""
    import signal
    import threading

    from sandbox.common.server import ThreadedServer
    from sandbox.common.tls import ensure_tls
    from sandbox.lineworks.routes import build_app, create_state
    from sandbox.salesforce.routes import build_app as build_salesforce_app
    from sandbox.salesforce.routes import create_state as create_salesforce_state

    tls = ensure_tls(state_dir)
    lineworks = create_state(state_dir / "lineworks")
    salesforce = create_salesforce_state(state_dir / "salesforce")
    servers = [
        ThreadedServer(build_app(lineworks), tls, host, port).start(),
        ThreadedServer(build_salesforce_app(salesforce), tls, host, salesforce_port or port + 1).start(),
    ]
    endpoints = {
        "lineworks": {"url": servers[0].url},
        "salesforce": {"url": servers[1].url},
        "ca_bundle": str(tls.ca_cert.resolve()),
    }
    (state_dir / "endpoints.json").write_text(json.dumps(endpoints, indent=2))
    if scenario:  # through the control API, as `seed` does: one seeder for both sandboxes
        from sandbox.seed import seed_running

        seed_running(state_dir, scenario, seed=seed_value)
    print(
        f"LINE WORKS sandbox on {servers[0].url}, Salesforce sandbox on {servers[1].url} (CA: {tls.ca_cert})",
        flush=True,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    for server in servers:
        server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--state-dir", type=Path, default=default_state_dir())
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8443, help="LINE WORKS sandbox port")
    serve_cmd.add_argument(
        "--salesforce-port", type=int, default=None, help="Salesforce sandbox port (default: port+1)"
    )
    serve_cmd.add_argument("--seed", dest="scenario", default=None)
    serve_cmd.add_argument("--seed-value", type=int, default=42)
    seed = sub.add_parser("seed")
    seed.add_argument("scenario")
    seed.add_argument("--seed", type=int, default=42)
    seed.add_argument("--no-reset", action="store_true")
    faults = sub.add_parser("faults")
    faults.add_argument("action", choices=["add", "random", "clear", "show"])
    faults.add_argument("args", nargs="*")
    faults.add_argument("--count", type=int, default=1)
    faults.add_argument("--seed", type=int, default=0)
    sub.add_parser("reset")
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir

    if args.command == "serve":
        return serve(state_dir, args.host, args.port, args.salesforce_port, args.scenario, args.seed_value)

    control = _control(state_dir)
    if args.command == "reset":
        print(json.dumps(control.reset()))
    elif args.command == "seed":
        from sandbox.seed import seed_running

        result = seed_running(state_dir, args.scenario, seed=args.seed, reset=not args.no_reset)
        print(json.dumps(result, ensure_ascii=False))
    elif args.command == "faults":
        if args.action == "add":
            target, kind = args.args
            result = control.fault(target, kind, args.count)
        elif args.action == "random":
            rate, kinds = args.args
            result = control.random_faults(float(rate), kinds.split(","), args.seed)
        elif args.action == "clear":
            result = control.clear_faults()
        else:
            result = control.call("GET", "/faults")
        print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
