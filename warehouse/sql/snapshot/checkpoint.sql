-- flush the finished snapshot to its file (no WAL left beside it); {snapshot} is its quoted alias
checkpoint {snapshot}
