-- operation: record one export and its rows (warehouse.export.record_export), in one transaction and in this
-- order: was it recorded before, the exports row, the export_rows rows.
-- registered inputs: export_membership (dataset, split, row_index, role, generation_id, pair_id, label_version)
-- parameters: $export_id, $path (export_recorded); $export_id, $as_of, $parameters, $label_version,
-- $champion_model_id, $counts, $exclusions, $pair_merging, $path (insert_export); $export_id (insert_export_rows)

-- name: export_recorded
-- how many times this export_id is recorded at this path (0 or 1)
select count(*) as recorded
from exports
where export_id = $export_id and path = $path

-- name: insert_export
-- record one export; re-recording the same export_id at the same path changes nothing (first created_at kept)
insert into exports (
    export_id, created_at, as_of, parameters, label_version, champion_model_id, counts, exclusions, pair_merging,
    path
)
values (
    $export_id, current_timestamp, $as_of, $parameters, $label_version, $champion_model_id, $counts, $exclusions,
    $pair_merging, $path
)
on conflict do nothing

-- name: insert_export_rows
-- per-row membership of an export, from the registered relation `export_membership`; once per export_id
insert into export_rows (export_id, dataset, split, row_index, role, generation_id, pair_id, label_version)
select
    $export_id as export_id,
    dataset,
    split,
    row_index,
    role,
    generation_id,
    pair_id,
    label_version
from export_membership
where not exists (select 1 from export_rows where export_rows.export_id = $export_id)
