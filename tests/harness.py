"""Test-side access to the mock runtime (render/mockrun.py), stack files and the source tree."""
import shutil
import subprocess
from pathlib import Path

from render.mockrun import (  # noqa: F401 - re-exported for tests
    FAKE_PASSWORD,
    FAKE_PRIVATE_KEY,
    FAKE_SECRET_PREFIX,
    PROJECT,
    ROOT,
    SECRET_SIG,
    STACKS,
    RecordingMocks,
    Resource,
    Run,
    cli_config,
    is_secret,
    load_settings,
    plain_occurrences,
    run_program,
    run_with_mocks,
    unwrap,
)


def copy_source_tree(dest: Path) -> Path:
    """A copy of this repository's files (tracked and new, not ignored: what a clone of the
    working tree gives), to run render or render_diff in."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest
