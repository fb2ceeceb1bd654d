"""The dynamics command: distance from E over training on the graph and digit tasks (issue 16)."""
