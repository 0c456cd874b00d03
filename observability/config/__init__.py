"""Validated configuration files (configs/*.yaml): Pydantic models plus a YAML loader."""
