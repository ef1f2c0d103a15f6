"""The redis-cli commands of docs/runbooks.md, as an operator would copy them.

A command is a line of a fenced code block that calls `redis-cli`, or an inline code span
that does (`redis-cli` alone is a mention, not a command). The block that defines a shell
function (the preamble's `inpod`) is the wrapper every command goes through, not a command;
so is an inline template with `…` for the arguments (the runbooks' form before issue 19).
Used by tests/test_runbook_commands.py (form) and tests/live/test_runbooks_live.py (run).
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from tests.harness import ROOT

FENCE = re.compile(r"^[ \t]*```[a-z]*\n(.*?)^[ \t]*```\n", re.M | re.S)  # also indented, in a list item
FUNCTION = re.compile(r"^(\w+)\(\) \{", re.M)
CALL = re.compile(r"(?:^|[\s(])(?:(\w+) )?redis-cli\s")
STOP = {"|", ")", ";", "&&", "||", "&", ">", ">>"}
PLACEHOLDER = re.compile(r"<([\w -]+)>")


@dataclass(frozen=True)
class Command:
    section: str
    """The `##`/`###` heading above it."""
    text: str
    """The line (or inline span) as written, whitespace collapsed."""
    fenced: bool

    def invocation(self) -> list[str]:
        """The words of the redis-cli call, from its wrapper (`inpod`) or `redis-cli` to the first
        `|`, `)`, `;` or `>` outside quotes: what the test runs (the pipeline or redirection after
        it is local work). `<placeholder>`s stay words."""
        return self._split()[0]

    def redirected(self) -> bool:
        """Its output goes to a file on the workstation (`> file`)."""
        return self._split()[1] in (">", ">>")

    def _split(self) -> tuple[list[str], str]:
        m = CALL.search(self.text)
        assert m, self.text
        start = m.start() + (1 if self.text[m.start()] in " \t(" else 0)
        guarded = PLACEHOLDER.sub(lambda p: "\x00" + p.group(1) + "\x01", self.text[start:])
        lexer = shlex.shlex(guarded, posix=True, punctuation_chars="|);&>")
        lexer.whitespace_split = True
        words = []
        for token in lexer:
            if token in STOP:
                return words, token
            words.append(token.replace("\x00", "<").replace("\x01", ">"))
        return words, ""

    def user(self) -> str | None:
        """The ACL user the command names (`--user <name>` of the redis-cli call)."""
        words = self.invocation()
        return words[words.index("--user") + 1] if "--user" in words else None

    def targets_sentinel(self) -> bool:
        words = self.invocation()
        return "-p" in words and words[words.index("-p") + 1] == "26379"


def runbooks_path() -> Path:
    """docs/runbooks.md, or the file in RUNBOOKS (to judge another version, e.g. an old one)."""
    return Path(os.environ.get("RUNBOOKS", ROOT / "docs" / "runbooks.md"))


def _sections(text: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group(1)) for m in re.finditer(r"^#{2,3} (.+)$", text, re.M)]


def _section_at(sections: list[tuple[int, str]], pos: int) -> str:
    return next((name for start, name in reversed(sections) if start <= pos), "preamble")


def wrapper(text: str) -> str | None:
    """The fenced block that defines the shell function the commands go through, if any."""
    return next((m.group(1) for m in FENCE.finditer(text) if FUNCTION.search(m.group(1))), None)


def template(text: str) -> str | None:
    """An inline wrapper template instead (`… redis-cli $TLS …'`, its `…` standing for the
    arguments), as the runbooks had before the `inpod` function."""
    outside = FENCE.sub("", text)
    return next((" ".join(m.group(1).split()) for m in re.finditer(r"`([^`]+)`", outside)
                 if "redis-cli" in m.group(1) and "…" in m.group(1)), None)


def commands(text: str) -> list[Command]:
    sections = _sections(text)
    found: list[Command] = []
    for m in FENCE.finditer(text):
        if FUNCTION.search(m.group(1)):
            continue
        for line in m.group(1).splitlines():
            if CALL.search(line + " "):
                found.append(Command(_section_at(sections, m.start()), " ".join(line.split()), True))
    outside = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    for m in re.finditer(r"`([^`]+)`", outside):
        span = " ".join(m.group(1).split())
        if CALL.search(span + " ") and span != "redis-cli" and "…" not in span:
            found.append(Command(_section_at(sections, m.start()), span, False))
    return found
