-- the state an export is taken from: the newest label_version and the latest label or pair time (the export's "as of")
-- registered inputs: none; parameters: none
with

labels as (
    select label_version, labeled_at from labels
),

preference_pairs as (
    select label_version, created_at from preference_pairs
),

latest_label as (
    select label_version
    from labels
    order by labeled_at desc, label_version desc
    limit 1
),

latest_pair as (
    select label_version
    from preference_pairs
    order by created_at desc, label_version desc
    limit 1
),

final as (
    select
        coalesce((select label_version from latest_label), (select label_version from latest_pair))
            as latest_label_version,
        greatest((select max(labeled_at) from labels), (select max(created_at) from preference_pairs)) as as_of,
        (select count(*) from labels) as label_rows,
        (select count(*) from preference_pairs) as pair_rows
)

select * from final
