"""python -m render --stack prod --out rendered/prod [--set KEY=VALUE] [--set-secret KEY=VALUE]
    [--baseline FOLDER|GIT_REF]

With --baseline, also prints the impact of going from the baseline (a render folder, or the
stack as a git ref declares it) to this render: the worst class first, then one line per
changed object (render/impact.py)."""
import argparse
import json
import sys
from pathlib import Path

import pulumi

from render import RenderError, render_stack
from render.impact import ImpactError, baseline, classify, read, report
from render.mockrun import ROOT
from settings.config import KEYS, pulumi_type
from settings.pulumi_cli import PulumiCliError
from settings.schema import StackConfig


def one_line(exc: BaseException) -> str:
    """The error as one line: a config or CLI error's own message; anything else with its type."""
    text = " ".join(str(exc).split())
    known = (pulumi.RunError, PulumiCliError, RenderError, ImpactError, ValueError, FileNotFoundError)
    return text if isinstance(exc, known) and text else f"{type(exc).__name__}: {text}"


def stack_value(key: str, text: str):
    """`--set KEY=VALUE` as `pulumi config set` stores it: a string, typed later by the key's
    declaration. Structured keys (wasApps, thresholds) take JSON, as the stack file holds
    them as YAML structures."""
    if key in KEYS and pulumi_type(StackConfig, KEYS[key]) in ("array", "object"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(f"--set {key}= takes JSON for this structured key, got {text!r}") from None
    return text


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} takes KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m render", description=__doc__)
    parser.add_argument("--stack", required=True, help="stack name (Pulumi.<stack>.yaml)")
    parser.add_argument("--out", required=True, type=Path,
                        help="output folder: new, or one render made before (only its own files are replaced)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="set a config key for this render, like `pulumi config set` (JSON for wasApps/thresholds)")
    parser.add_argument("--set-secret", action="append", default=[], metavar="KEY=VALUE",
                        help="set a secret config key, like `pulumi config set --secret`")
    parser.add_argument("--baseline", metavar="FOLDER|GIT_REF",
                        help="print the impact of the change from this render folder, or from the stack at this git ref")
    args = parser.parse_args(argv)
    try:
        overrides = {k: stack_value(k, v) for k, v in _pairs(args.set, "--set").items()}
        secrets = _pairs(args.set_secret, "--set-secret")
        before = baseline(args.baseline, args.stack, ROOT) if args.baseline else None
        _, paths = render_stack(args.stack, args.out, overrides, secrets)
    except Exception as exc:  # noqa: BLE001 - one line, never a trace: bad config, missing stack file
        print(f"render: {one_line(exc)}", file=sys.stderr)
        return 1
    print(f"render: {len(paths)} files in {args.out}")
    if before is not None:
        print(report(classify(before, read(args.out)), f" of {args.stack} from {args.baseline}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
