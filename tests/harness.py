"""Test-side access to the mock runtime (render/mockrun.py) and stack files."""
from render.mockrun import (  # noqa: F401 - re-exported for tests
    FAKE_PASSWORD,
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
