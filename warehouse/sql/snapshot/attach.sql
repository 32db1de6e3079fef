-- attach the snapshot file being built (path bound as a parameter); {snapshot} is its quoted alias
attach ? as {snapshot}
