-- one row of snapshot_info; {snapshot} is the quoted alias of the attached file
insert into {snapshot}.snapshot_info (
    relation, source_kind, row_count, snapshot_number, schema_version, source_db, published_at
)
values (?, ?, ?, ?, ?, ?, ?)
