"""python -m render --stack prod --out rendered/prod"""
import argparse
import sys
from pathlib import Path

import pulumi
import yaml

from render import render_stack


def one_line(exc: BaseException) -> str:
    """The error as one line: a config error's own message; anything else with its type."""
    text = " ".join(str(exc).split())
    return text if isinstance(exc, (pulumi.RunError, ValueError, FileNotFoundError)) and text \
        else f"{type(exc).__name__}: {text}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m render", description=__doc__)
    parser.add_argument("--stack", required=True, help="stack name (Pulumi.<stack>.yaml)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (its *.yaml files are replaced)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key for this render (value read as YAML), e.g. --set redisTopology=sentinel")
    args = parser.parse_args(argv)
    try:
        overrides = {}
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
            overrides[key] = yaml.safe_load(value)
        _, paths = render_stack(args.stack, args.out, overrides)
    except Exception as exc:  # noqa: BLE001 - one line, never a trace: bad config, missing stack file
        print(f"render: {one_line(exc)}", file=sys.stderr)
        return 1
    print(f"render: {len(paths)} files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
