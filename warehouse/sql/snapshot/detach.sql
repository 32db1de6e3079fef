-- let go of the snapshot file; {snapshot} is its quoted alias
detach {snapshot}
