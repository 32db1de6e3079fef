-- staging relation: one row per generation record with the facts known when it was generated (plus its
-- creator, output, consent and flags), the one place the model and export SQL read generation records from.
-- Created per connection as the temporary view `stg_generations` (warehouse.registry.stage_generations);
-- read by model/generations.sql, model/request_generations.sql, model/unscored_generations.sql and
-- export/generation_facts.sql.
-- registered inputs: none; parameters: none
create or replace temp view stg_generations as
with

generations as (
    select
        generation_id,
        request_id,
        creator_id,
        created_at,
        prompt,
        model_version,
        duration_ms,
        width,
        height,
        fps,
        seed,
        reference_inputs,
        output_uri,
        output_embedding,
        training_consent,
        content_flags
    from generations
),

final as (
    select * from generations
)

select * from final
