"""python -m render --stack prod --out rendered/prod [--set KEY=VALUE] [--json KEY=JSON]
[--path PATH VALUE] [--set-secret KEY=VALUE]

Config edits for this render only, with the Pulumi CLI's semantics (tools/pulumi_cli.py):
  --set KEY=VALUE        `pulumi config set KEY VALUE`: the value is a string, whatever it looks like
                         (so a JSON list on wasApps is refused, as the CLI refuses it);
  --json KEY=JSON        a structured value as a whole (`pulumi config set-all --json`, objectValue);
  --path PATH VALUE      `pulumi config set --path PATH VALUE`: one field inside the stack's value,
                         e.g. --path 'wasApps[0].minReplicas' 3 ("true"/"false" booleans, integers
                         numbers, else strings);
  --set-secret KEY=VALUE `pulumi config set --secret KEY VALUE`.
--set and --json apply first, then every --path in the order given.
--baseline FOLDER|GIT_REF also prints the impact of going from the baseline (a render folder, or
the stack as a git ref declares it) to this render: the worst class first, then one line per
changed object (render/impact.py).
"""
import argparse
import json
import sys
from pathlib import Path

import pulumi

from render import RenderError, render_stack
from render.impact import ImpactError, baseline, classify, read, report
from tools.pulumi_cli import ConfigValue, PulumiCliError, _go_json, config_set, read_stack_file
from tools.stackfile import PROJECT, ROOT


def one_line(exc: BaseException) -> str:
    """The error as one line: a config or CLI error's own message; anything else with its type."""
    text = " ".join(str(exc).split())
    known = (pulumi.RunError, PulumiCliError, RenderError, ImpactError, ValueError, FileNotFoundError)
    return text if isinstance(exc, known) and text else f"{type(exc).__name__}: {text}"


def json_value(key: str, text: str) -> ConfigValue:
    """`--json KEY=JSON`: a structured value; a typo is reported with its line and column."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--json {key}= is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    return ConfigValue(_go_json(value), object=isinstance(value, (dict, list)))


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} takes KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def edited_values(stack: str, sets: dict[str, str], jsons: dict[str, str], paths: list[tuple[str, str]],
                  root: Path = ROOT) -> dict:
    """The stack's keys these edits change, as stack-file values (bare keys)."""
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        raise FileNotFoundError(f"no stack file {stack_file.name}")
    values = read_stack_file(stack_file.read_text(), PROJECT)
    before = dict(values)
    for key, text in sets.items():
        config_set(values, PROJECT, key, text)
    for key, text in jsons.items():
        values[key if ":" in key else f"{PROJECT}:{key}"] = json_value(key, text)
    for path, text in paths:
        config_set(values, PROJECT, path, text, path=True)
    return {k.partition(":")[2] if k.startswith(PROJECT + ":") else k: (json.loads(v.text) if v.object else v.text)
            for k, v in values.items() if before.get(k) != v}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m render", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True, help="stack name (Pulumi.<stack>.yaml)")
    parser.add_argument("--out", required=True, type=Path,
                        help="output folder: new, or one render made before (only its own files are replaced)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="set a config key to a string, like `pulumi config set KEY VALUE`")
    parser.add_argument("--json", action="append", default=[], metavar="KEY=JSON",
                        help="set a config key to a structured value (wasApps, thresholds, dnsEgress)")
    parser.add_argument("--path", action="append", default=[], nargs=2, metavar=("PATH", "VALUE"),
                        help="set one field, like `pulumi config set --path PATH VALUE`")
    parser.add_argument("--set-secret", action="append", default=[], metavar="KEY=VALUE",
                        help="set a secret config key, like `pulumi config set --secret`")
    parser.add_argument("--baseline", metavar="FOLDER|GIT_REF",
                        help="print the impact of the change from this render folder, or from the stack at this git ref")
    args = parser.parse_args(argv)
    try:
        overrides = edited_values(args.stack, _pairs(args.set, "--set"), _pairs(args.json, "--json"),
                                  [tuple(p) for p in args.path])
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
