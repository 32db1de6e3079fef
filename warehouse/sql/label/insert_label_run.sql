-- record a label run that did work, with the state watermark its labels and pairs reflect
insert into label_runs (
    label_version, events_through, events_count, generations_through, generations_count, model_refit,
    labels_written, pairs_written, pairs_deleted, started_at, finished_at
)
values (
    $label_version, $events_through, $events_count, $generations_through, $generations_count, $model_refit,
    $labels_written, $pairs_written, $pairs_deleted, $started_at, $finished_at
)
