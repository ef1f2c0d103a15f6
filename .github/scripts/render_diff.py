"""The render diff of a pull request: every stack rendered at the base and at the PR, and
the difference, object by object, the chart's objects included.

`pulumi preview` shows a `helm.v3.Release` as its values only; `python -m render` writes
every object the program declares AND every object the pinned chart creates from those
values (helm template on the vendored chart), offline, with fake secrets. This script runs
that render in two source trees and compares the output folders file by file.

    python .github/scripts/render_diff.py --base BASE_TREE --head PR_TREE --out DIR \
        [--summary FILE] [--base-label TEXT] [--head-label TEXT] [--python PY]

Each tree renders with its own code and its own `.venv` (or `--python`, for both). The
summary leads with the impact (render/impact.py, run with the PR tree's code on the two
renders): the worst class of any stack, then per stack one class and one line per changed
object. Writes:
  DIR/summary.md          Markdown for a job summary: the impact, per-stack counts, a table of changed
                          files, then each file's diff folded, cut at --max-chars
  DIR/render-diff.patch   the full unified diff, never cut
  DIR/base/<stack>/, DIR/head/<stack>/   the two renders
and appends summary.md to --summary (e.g. "$GITHUB_STEP_SUMMARY").
Exit 1 when the PR's render of a stack fails (the summary says why), else 0.

Runs untrusted code (the PR's program): CI runs it in a job with no secrets and a
read-only token (docs/ci.md). Standard library only.
"""
from __future__ import annotations

import argparse
import difflib
import html
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

MARKER = ".render"  # render's own list of the files it wrote
PULUMI_FILE = "pulumi-resources.yaml"  # render's list of the Pulumi resource and options behind each file
CLASSES = ("in-place", "restart", "failover", "upgrade-fails", "replace", "sessions-lost", "data-lost")
RENDER_TIMEOUT_SECONDS = 600
MAX_CHARS = 60_000  # summary budget: GitHub takes 1 MiB per step, reviewers far less
MAX_FILE_LINES = 300  # one file's diff in the summary; the patch has all of it


@dataclass
class FileDiff:
    path: str  # relative to the stack's render folder
    status: str  # added | removed | changed
    lines: list[str]  # unified diff lines, no trailing newlines

    @property
    def plus(self) -> int:
        return sum(1 for line in self.lines if line.startswith("+") and not line.startswith("+++"))

    @property
    def minus(self) -> int:
        return sum(1 for line in self.lines if line.startswith("-") and not line.startswith("---"))


@dataclass
class StackDiff:
    stack: str
    base_objects: int | None  # None: no render on that side (no stack file, or it failed)
    head_objects: int | None
    files: list[FileDiff] = field(default_factory=list)
    base_error: str | None = None
    head_error: str | None = None
    impacts: list[dict] = field(default_factory=list)  # render.impact's {path, class, what, refused}, worst first
    impact_error: str | None = None


def stacks(tree: Path) -> list[str]:
    """Stack names of a tree: one per Pulumi.<stack>.yaml."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in tree.glob("Pulumi.*.yaml"))


def origin(path: str) -> str:
    """Where a rendered file comes from: the program, a release's values, or the chart."""
    folder, _, name = path.rpartition("/")
    if path == PULUMI_FILE:
        return "pulumi options"
    if not folder.startswith("helm-"):
        return "program"
    return {"values.yaml": "release values", "release.yaml": "release options"}.get(name, "chart")


def object_count(files: dict[str, str]) -> int:
    """Kubernetes objects in a render: every file but a release's values and options."""
    return sum(1 for path in files if origin(path) in ("program", "chart"))


def read_render(folder: Path) -> dict[str, str]:
    """Relative path -> text of every file render wrote (its marker file excluded)."""
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MARKER}


def _sort_key(path: str) -> tuple[int, str]:
    order = {"program": 0, "pulumi options": 1, "release values": 2, "release options": 3, "chart": 4}
    return order[origin(path)], path


def diff_files(stack: str, base: dict[str, str], head: dict[str, str]) -> list[FileDiff]:
    """Added, removed and changed files between two renders of a stack, in review order:
    the program's objects, the release's values and options, then the chart's objects."""
    out = []
    for path in sorted(set(base) | set(head), key=_sort_key):
        old, new = base.get(path), head.get(path)
        if old == new:
            continue
        status = "added" if old is None else "removed" if new is None else "changed"
        lines = [line.rstrip("\n") for line in difflib.unified_diff(
            (old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True),
            fromfile=f"base/{stack}/{path}" if old is not None else "/dev/null",
            tofile=f"head/{stack}/{path}" if new is not None else "/dev/null", n=3)]
        out.append(FileDiff(path, status, lines))
    return out


def render(tree: Path, stack: str, out: Path, python: str | None = None) -> str | None:
    """`python -m render --stack <stack> --out <out>` in `tree`; None, or the error in one line."""
    interpreter = python or str(tree / ".venv" / "bin" / "python")
    if not Path(interpreter).exists():
        return f"{interpreter} not found (install the tree's .venv first)"
    try:
        proc = subprocess.run([interpreter, "-m", "render", "--stack", stack, "--out", str(out)], cwd=tree,
                              capture_output=True, text=True, timeout=RENDER_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return f"render timed out after {RENDER_TIMEOUT_SECONDS}s"
    if proc.returncode != 0:
        text = " ".join((proc.stderr or proc.stdout).split())
        return text[-500:] or f"render exited {proc.returncode}"
    return None


def render_both(base: Path, head: Path, out: Path, python: str | None = None) -> list[StackDiff]:
    """Render every stack of either tree on both sides and diff each pair."""
    result = []
    for stack in sorted(set(stacks(base)) | set(stacks(head))):
        sides: dict[str, tuple[dict[str, str], str | None, bool]] = {}
        for side, tree in (("base", base), ("head", head)):
            folder = out / side / stack
            if stack not in stacks(tree):
                sides[side] = ({}, None, False)
                continue
            error = render(tree, stack, folder, python)
            sides[side] = ({}, error, False) if error else (read_render(folder), None, True)
        (base_files, base_error, base_ok), (head_files, head_error, head_ok) = sides["base"], sides["head"]
        d = StackDiff(stack, object_count(base_files) if base_ok else None,
                      object_count(head_files) if head_ok else None,
                      diff_files(stack, base_files, head_files), base_error, head_error)
        if base_ok and head_ok and d.files:
            d.impacts, d.impact_error = impact(head, out / "base" / stack, out / "head" / stack, python)
        result.append(d)
    return result


def impact(tree: Path, base: Path, head: Path, python: str | None = None) -> tuple[list[dict], str | None]:
    """The PR tree's classifier (`python -m render.impact BASE HEAD --json`, render/impact.py)
    on two renders: one class per changed object, worst first; or the error in one line."""
    interpreter = python or str(tree / ".venv" / "bin" / "python")
    try:
        proc = subprocess.run([interpreter, "-m", "render.impact", str(base), str(head), "--json"], cwd=tree,
                              capture_output=True, text=True, timeout=RENDER_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [], f"impact: {exc}"
    if proc.returncode != 0:
        return [], " ".join((proc.stderr or proc.stdout).split())[-500:] or f"impact exited {proc.returncode}"
    return json.loads(proc.stdout), None


def worst(diffs: list[StackDiff]) -> tuple[str, dict] | None:
    """(stack, impact) that leads the summary: a refusal first, else the worst class."""
    found = [(d.stack, i) for d in diffs for i in d.impacts[:1]]
    if not found:
        return None
    return min(found, key=lambda si: (not si[1].get("refused"), -CLASSES.index(si[1]["class"])))


def patch(diffs: list[StackDiff]) -> str:
    """Every stack's full unified diff, one file after another."""
    return "".join(line + "\n" for d in diffs for f in d.files for line in f.lines)


def _fence(text: str) -> str:
    """A code fence longer than any backtick run in the text, so content cannot close it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _code(text: str) -> str:
    return f"<code>{html.escape(text)}</code>"


def _count(n: int | None) -> str:
    return "—" if n is None else str(n)


def summary(diffs: list[StackDiff], base_label: str = "base", head_label: str = "PR",
            max_chars: int = MAX_CHARS, max_file_lines: int = MAX_FILE_LINES) -> str:
    """Markdown: counts per stack, then per stack a table of changed files and each file's
    diff folded in <details>. File diffs stop when the text would pass `max_chars`; each is
    cut at `max_file_lines`. The counts and tables are always there."""
    top = worst(diffs)
    lead = (f"## Impact: **{top[1]['class']}** ({top[0]}: {html.escape(top[1]['what'])})" if top else
            "## Impact: none (no rendered object changes)" if not any(d.files for d in diffs) else
            "## Impact: unknown (the classifier did not run: see each stack)")
    head = [lead, "",
            f"## Render diff: {base_label} → {head_label}", "",
            "Every object the program declares and every object the pinned chart creates "
            "(`python -m render`: helm template on the vendored chart, offline, fake secrets). "
            "`pulumi preview` shows the Helm release as its values only.", "",
            "| stack | objects (base → PR) | added | removed | changed |", "|---|---|---|---|---|"]
    for d in diffs:
        n = {s: sum(1 for f in d.files if f.status == s) for s in ("added", "removed", "changed")}
        head.append(f"| {d.stack} | {_count(d.base_objects)} → {_count(d.head_objects)} "
                    f"| {n['added']} | {n['removed']} | {n['changed']} |")
    parts = ["\n".join(head) + "\n"]
    details: list[tuple[int, str]] = []  # (position in parts, folded diff) filled within budget
    for d in diffs:
        lines = ["", f"### {d.stack}"]
        if d.head_error:
            lines.append(f"**The PR's render fails:** {_code(d.head_error)}")
        if d.base_error:
            lines.append(f"The base's render fails ({_code(d.base_error)}): every PR object shows as added.")
        if not d.files and not d.head_error:
            lines.append("No rendered object changes.")
        if d.impact_error:
            lines.append(f"**The impact classifier failed:** {_code(d.impact_error)}")
        if d.impacts:
            lines += ["", f"Impact: **{d.impacts[0]['class']}**", "", "| class | object | what the user will see |",
                      "|---|---|---|"]
            lines += [f"| {i['class']} | `{i['path']}` | {html.escape(i['what'])} |" for i in d.impacts]
        if d.files:
            lines += ["", "| file | from | change |", "|---|---|---|"]
            lines += [f"| `{f.path}` | {origin(f.path)} | {f.status} +{f.plus} −{f.minus} |" for f in d.files]
        parts.append("\n".join(lines) + "\n")
        for f in d.files:
            body = f.lines[:max_file_lines]
            cut = len(f.lines) - len(body)
            text = "\n".join(body) + (f"\n… {cut} more lines in render-diff.patch" if cut else "")
            fence = _fence(text)
            parts.append("")
            details.append((len(parts) - 1, f"<details><summary>{d.stack}: {_code(f.path)} {f.status} "
                                            f"+{f.plus} −{f.minus}</summary>\n\n{fence}diff\n{text}\n{fence}\n</details>\n"))
    used = sum(len(p) for p in parts)
    omitted = 0
    for index, block in details:
        if used + len(block) > max_chars:
            omitted += 1
            continue
        parts[index] = block
        used += len(block)
    if omitted:
        parts.append(f"\n_{omitted} file diff(s) not shown (summary limit {max_chars} characters): "
                     "the artifact `render-diff` holds render-diff.patch and both renders._\n")
    return "\n".join(p for p in parts if p)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="source tree of the base")
    parser.add_argument("--head", type=Path, required=True, help="source tree of the PR (merge commit)")
    parser.add_argument("--out", type=Path, required=True, help="new folder for the renders, summary.md, render-diff.patch")
    parser.add_argument("--summary", type=Path, help="file to append the summary to, e.g. $GITHUB_STEP_SUMMARY")
    parser.add_argument("--base-label", default="base")
    parser.add_argument("--head-label", default="PR")
    parser.add_argument("--python", help="interpreter for both trees (default: each tree's .venv/bin/python)")
    parser.add_argument("--max-chars", type=int, default=MAX_CHARS)
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        print(f"render_diff: {args.out} is not empty", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    diffs = render_both(args.base.resolve(), args.head.resolve(), args.out.resolve(), args.python)
    text = summary(diffs, args.base_label, args.head_label, args.max_chars)
    (args.out / "summary.md").write_text(text)
    (args.out / "render-diff.patch").write_text(patch(diffs))
    if args.summary:
        with args.summary.open("a") as f:
            f.write(text)
    print(text)
    failed = [d.stack for d in diffs if d.head_error]
    if failed:
        print(f"render_diff: the PR's render fails for {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
