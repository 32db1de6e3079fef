-- record one promotion decision: who challenged, who was champion, the metrics compared and why
insert into champion_history (
    model_id,
    decided_at,
    promoted,
    previous_champion_id,
    challenger_metric,
    champion_metric,
    reason
)
values (
    $model_id,
    $decided_at,
    $promoted,
    $previous_champion_id,
    $challenger_metric,
    $champion_metric,
    $reason
)
