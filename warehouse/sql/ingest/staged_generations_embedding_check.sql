-- output_embedding has one length per model_version: the length already in `generations`, else the length of the
-- first valid row of this file; valid rows of another length are rejected (checked after the per-row rules)
update ingest_staged as staged
set
    reason_code = 'embedding_dim_mismatch',
    detail = 'output_embedding: ' || len(staged.output_embedding) || ' values, model_version "'
        || left(staged.model_version, 64) || '" has ' || reference.dim
from (
    with loaded_dims as (
        select
            model_version,
            min(len(output_embedding)) as dim
        from generations
        where output_embedding is not null
        group by model_version
    ),

    file_dims as (
        select
            model_version,
            arg_min(len(output_embedding), row_number) as dim
        from ingest_staged
        where reason_code is null and output_embedding is not null
        group by model_version
    )

    select
        file_dims.model_version,
        coalesce(loaded_dims.dim, file_dims.dim) as dim
    from file_dims
    left join loaded_dims on loaded_dims.model_version = file_dims.model_version
) as reference
where staged.model_version = reference.model_version
    and staged.reason_code is null
    and staged.output_embedding is not null
    and len(staged.output_embedding) <> reference.dim
