"""Each module here defines `register(subparsers)`; `cli.main` discovers them, so command groups
can be added without editing a shared list."""
