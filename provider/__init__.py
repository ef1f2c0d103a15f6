"""The component provider's entry point (PulumiPlugin.yaml `main: provider`): see __main__.py."""
