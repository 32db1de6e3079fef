-- the truth-free checks of the latest label run (label_diagnostics): the label and every raw rate, with the
-- label's verdict against the best raw rate
-- reads: label_diagnostics; no parameters
create or replace view report_label_diagnostics as
with

label_diagnostics as (
    select
        computed_at, label_version, score, kind, split_half, split_half_generations, temporal,
        temporal_generations, studio_agreement, studio_votes, loading, quality_share, weight,
        beats_best_raw, warning
    from label_diagnostics
),

latest as (
    select max(computed_at) as computed_at from label_diagnostics
),

final as (
    select label_diagnostics.*
    from label_diagnostics
    semi join latest using (computed_at)
)

select * from final
order by kind = 'label' desc, kind, score
