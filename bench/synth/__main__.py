"""``python -m bench.synth``: write a synthetic world, or change one (see ``bench/synth/__init__.py``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.synth import make_world, rewrite_sites, write_world


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.synth", description=__doc__)
    ap.add_argument("--out", type=Path, required=True, help="folder to write (sites/, sources.toml, world.json, expected.json)")
    ap.add_argument("--sites", type=int, default=24)
    ap.add_argument("--events", type=int, default=100, help="listings per site, about")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--port", type=int, default=8099, help="the port the server will listen on (it is in every URL)")
    ap.add_argument("--mutate", type=float, metavar="SHARE", help="instead: change this share of the events of the world in --out")
    args = ap.parse_args(argv)
    if args.mutate is not None:
        print(json.dumps(rewrite_sites(args.out, args.mutate)))
        return 0
    expected = write_world(make_world(args.sites, args.events, args.seed, args.port), args.out)
    print(json.dumps({k: v for k, v in expected.items() if k not in ("per_site", "ics_files")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
