"""The `huracan-obs` command line: one module per command group under `commands/`."""
