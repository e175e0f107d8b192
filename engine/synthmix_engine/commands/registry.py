"""Commands beyond the runner's own (`info`, `dummy-train`). One line per command: name -> module."""

COMMANDS: dict[str, str] = {
    "extract-features": "extract_features",
    "fid-table": "fid_table",
}
