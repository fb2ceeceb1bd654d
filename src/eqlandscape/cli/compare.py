"""The compare command: relaxations side by side (issue 15)."""
