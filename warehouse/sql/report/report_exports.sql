-- every recorded dataset export, newest first: rows per dataset and split, exclusions per reason and how DPO
-- evidence merged into pairs (JSON, as `exports` holds them), for the report's export section and "what changed"
-- reads: exports; no parameters
create or replace view report_exports as
with

exports as (
    select
        export_id,
        created_at,
        as_of,
        label_version,
        champion_model_id,
        counts,
        exclusions,
        pair_merging,
        path
    from exports
),

final as (
    select * from exports
)

select * from final
order by created_at desc, export_id, path
