"""Read a stack's config offline exactly as the Pulumi CLI hands it to the program:
Pulumi.yaml validated, Pulumi.<stack>.yaml read as config values, project defaults merged
in and the CLI's checks run (tools/pulumi_cli.py). `secure:` values cannot be
decrypted offline: each becomes a fake https URL (no real secret is ever needed here).
Used by the mock harness, the render command and the daily checklist.

`overrides` map bare keys to what a stack file would hold (a string, number, bool, list
or map; None removes the key), like editing the stack file or `pulumi config set`;
`secret_overrides` are set as secure values, like `pulumi config set --secret`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from tools.pulumi_cli import ConfigValue, config_value, load_yaml, merge_config, read_stack_file, validate_project

ROOT = Path(__file__).resolve().parent.parent
FAKE_SECRET_PREFIX = "https://fake-secret.invalid/"


def read_project(root: Path = ROOT) -> dict:
    """Pulumi.yaml, validated as the CLI validates it."""
    project = load_yaml((root / "Pulumi.yaml").read_text())
    validate_project(project)
    return project


PROJECT = read_project()["name"]


def cli_config(stack: str, overrides: dict[str, Any] | None = None,
               secret_overrides: dict[str, str] | None = None,
               root: Path = ROOT) -> tuple[dict[str, str], list[str]]:
    """(`<project>:<key>` -> plaintext string, secret keys): what the language host passes
    the program in PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS. Raises PulumiCliError where
    the CLI stops, FileNotFoundError for a missing stack file."""
    project = read_project(root)
    name = project["name"]
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        raise FileNotFoundError(f"no stack file {stack_file.name}")
    values = read_stack_file(stack_file.read_text(), name)
    plaintext: dict[str, str] = {}
    for key, raw in (overrides or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        if raw is None:
            values.pop(full, None)
        else:
            values[full] = config_value(raw)
    for key, text in (secret_overrides or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        values[full] = ConfigValue("v1:offline-ciphertext", secure=True)
        plaintext[full] = text

    def decrypt(full_key: str, value: ConfigValue) -> str:
        return plaintext.get(full_key, FAKE_SECRET_PREFIX + full_key.partition(":")[2])

    merged = merge_config(project, stack, values, decrypt)
    config = {k: decrypt(k, v) if v.secure else v.text for k, v in merged.items()}
    return config, sorted(k for k, v in merged.items() if v.secure)


def load_settings(stack: str, overrides: dict[str, Any] | None = None,
                  secret_overrides: dict[str, str] | None = None):
    """Parsed StackSettings of a stack file (PulumiCliError or ConfigError when bad)."""
    from components.config.config import parse

    config, secret_keys = cli_config(stack, overrides, secret_overrides)
    return parse(config, PROJECT, stack, secret_keys)
