"""Stack settings: parsing (config), typed model (model), names and labels (names),
memory sizing rules (sizing)."""
