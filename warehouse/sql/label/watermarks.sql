-- operation: record how far label state and label runs have read (warehouse.label_store.set_state_mark,
-- record_run).
-- parameters: $label_version, $events_through, $events_count, $generations_through, $generations_count,
-- $updated_at (insert_state); those and $model_refit, $labels_written, $pairs_written, $pairs_deleted,
-- $started_at, $finished_at (insert_run)

-- name: clear_state
-- forget the label state watermark (the new one is inserted next)
delete from label_state

-- name: insert_state
-- record how far the label state tables have read events and generations
insert into label_state (
    label_version, events_through, events_count, generations_through, generations_count, updated_at
)
values ($label_version, $events_through, $events_count, $generations_through, $generations_count, $updated_at)

-- name: insert_run
-- record a label run that did work, with the state watermark its labels and pairs reflect
insert into label_runs (
    label_version, events_through, events_count, generations_through, generations_count, model_refit,
    labels_written, pairs_written, pairs_deleted, started_at, finished_at
)
values (
    $label_version, $events_through, $events_count, $generations_through, $generations_count, $model_refit,
    $labels_written, $pairs_written, $pairs_deleted, $started_at, $finished_at
)
