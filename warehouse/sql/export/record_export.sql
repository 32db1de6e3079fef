-- record one export; re-recording the same export_id at the same path changes nothing (first created_at kept)
insert into exports (
    export_id, created_at, as_of, parameters, label_version, champion_model_id, counts, exclusions, path
)
values (
    $export_id, current_timestamp, $as_of, $parameters, $label_version, $champion_model_id, $counts, $exclusions, $path
)
on conflict do nothing
