"""huracan-tui: the keyboard-driven Textual live monitor (the only package that imports Textual)."""
