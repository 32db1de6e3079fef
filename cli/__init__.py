"""The `reelloop` command line: one module per verb group; each parses its options, runs its
stage and prints the stage's typed result."""
