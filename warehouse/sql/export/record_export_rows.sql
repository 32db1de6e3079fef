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
