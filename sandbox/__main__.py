"""``python -m sandbox``: run and drive the local sandboxes.

  serve   [--port 8443] [--state-dir .sandbox] [--seed demo|test|bench|FILE]   run in the foreground
  seed    (demo|test|bench|FILE) [--seed N]                                   load a scenario
  faults  add TARGET KIND [--count N] | random RATE KIND[,KIND] [--seed N] | clear | show
  reset
The running server's address and CA are written to ``<state-dir>/endpoints.json`` for the other commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_STATE_DIR = Path(".sandbox")


def scenario_spec(name_or_file: str, seed: int, creds, callback_url: str | None = None) -> dict:
    """A scenario (a generator size ``demo``/``test``/``bench`` or a JSON/YAML file) plus our app and bot."""
    from sandbox.lineworks.seeding import read_spec

    if Path(name_or_file).is_file():
        spec = read_spec(name_or_file)
    else:
        spec = {"generator": {"size": name_or_file, "seed": seed}}
    spec.setdefault("apps", []).append(creds.app_spec())
    spec.setdefault("bots", []).append(creds.bot_spec(callback_url))
    return spec


def _control(state_dir: Path):
    from sandbox.control_client import SandboxControl

    endpoints = json.loads((state_dir / "endpoints.json").read_text())
    return SandboxControl(endpoints["lineworks"]["url"], endpoints["ca_bundle"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8443)
    serve.add_argument("--seed", dest="scenario", default=None)
    serve.add_argument("--seed-value", type=int, default=42)
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
        from sandbox.common.server import serve_forever
        from sandbox.common.tls import ensure_tls
        from sandbox.credentials import ensure_credentials
        from sandbox.lineworks.routes import build_app, create_state

        tls = ensure_tls(state_dir)
        state = create_state(state_dir / "lineworks")
        if args.scenario:
            state.reset()
            state.seed(scenario_spec(args.scenario, args.seed_value, ensure_credentials(state_dir)))
        url = f"https://localhost:{args.port}"
        (state_dir / "endpoints.json").write_text(
            json.dumps({"lineworks": {"url": url}, "ca_bundle": str(tls.ca_cert.resolve())}, indent=2)
        )
        print(f"LINE WORKS sandbox on {url} (CA: {tls.ca_cert})", flush=True)
        serve_forever(build_app(state), tls, args.host, args.port)
        return 0

    control = _control(state_dir)
    if args.command == "reset":
        print(json.dumps(control.reset()))
    elif args.command == "seed":
        from sandbox.credentials import ensure_credentials

        if not args.no_reset:
            control.reset()
        result = control.seed(scenario_spec(args.scenario, args.seed, ensure_credentials(state_dir)))
        print(json.dumps(result["rows"], ensure_ascii=False))
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
