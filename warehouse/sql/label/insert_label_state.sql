-- record how far the label state tables have read events and generations
insert into label_state (
    label_version, events_through, events_count, generations_through, generations_count, updated_at
)
values ($label_version, $events_through, $events_count, $generations_through, $generations_count, $updated_at)
