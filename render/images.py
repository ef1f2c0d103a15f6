"""Every container image a stack deploys, read from its offline render (the program's
objects and every object the chart creates), for the workflow's image scan
(.github/workflows/preview.yml, job image-scan).

`python -m render.images [--stack dev ...]` prints one JSON line: a list of
{"image": <reference>, "acceptedCves": "<id>,<id>"}, one entry per image over the given
stacks (default: every Pulumi.<stack>.yaml). acceptedCves is what every stack deploying
that image acknowledged with redisImageAcceptedCves (the intersection), and only for the
Redis and Sentinel images those keys are about; the scan ignores exactly those.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from components.config import validators
from components.config.config import parse
from render import object_files, release_files
from render.mockrun import ROOT, run_program
from tools.stackfile import PROJECT

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def images_in(value: Any) -> set[str]:
    """Images of every container list anywhere in an object (pod templates of any kind)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in CONTAINER_LISTS and isinstance(item, list):
                found |= {c["image"] for c in item if isinstance(c, dict) and isinstance(c.get("image"), str)}
            else:
                found |= images_in(item)
    elif isinstance(value, list):
        for item in value:
            found |= images_in(item)
    return found


def _repository(image: str) -> tuple[str, str]:
    ref = validators.image(image)
    return ref.domain, ref.path


def stack_images(stack: str) -> dict[str, frozenset[str]]:
    """image -> CVEs the stack acknowledged for it; raises the program's error."""
    run = run_program(stack)
    if run.error is not None:
        raise run.error
    kube_version = next((str(v) for k, v in run.config.items() if k.endswith(":kubernetesVersion")), None)
    files = {**object_files(run), **release_files(run, kube_version)}
    redis = parse(run.config, PROJECT, stack).redis
    acked = {_repository(redis.redis_image.ref), _repository(redis.sentinel_image.ref)}
    accepted = frozenset(redis.accepted_cves)
    return {image: accepted if _repository(image) in acked else frozenset()
            for image in sorted(images_in(list(files.values())))}


def scan_targets(stacks: list[str]) -> list[dict[str, str]]:
    accepted: dict[str, frozenset[str]] = {}
    for stack in stacks:
        for image, cves in stack_images(stack).items():
            accepted[image] = accepted[image] & cves if image in accepted else cves
    return [{"image": image, "acceptedCves": ",".join(sorted(cves))} for image, cves in sorted(accepted.items())]


def all_stacks() -> list[str]:
    return sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m render.images", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", action="append", help="a stack (Pulumi.<stack>.yaml); default every stack")
    args = parser.parse_args(argv)
    try:
        targets = scan_targets(args.stack or all_stacks())
    except Exception as exc:  # noqa: BLE001 - one line, never a trace
        from render.__main__ import one_line
        print(f"render.images: {one_line(exc)}", file=sys.stderr)
        return 1
    print(json.dumps(targets, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
