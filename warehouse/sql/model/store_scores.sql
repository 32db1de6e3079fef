-- operation: store a batch of preference-model scores (warehouse.registry.insert_scores); returns the rows inserted.
-- registered inputs: new_scores (generation_id, model_id, score)
-- parameters: $scored_at

-- name: insert_new_scores
-- append new scores from the registered frame `new_scores`, skipping any (generation, model) already scored
with

new_scores as (
    select generation_id, model_id, score
    from new_scores
),

existing as (
    select generation_id, model_id
    from scores
),

final as (
    select new_scores.generation_id, new_scores.model_id, new_scores.score, $scored_at as scored_at
    from new_scores
    anti join existing using (generation_id, model_id)
)

insert into scores (generation_id, model_id, score, scored_at)
select * from final
