-- quarantined rows per kind and reason code, and how many files they came from
-- reads: quarantine; no parameters
create or replace view report_quarantine_reasons as
with

quarantine as (
    select source_file, kind, reason_code
    from quarantine
),

final as (
    select
        kind,
        reason_code,
        count(*) as rows_quarantined,
        count(distinct source_file) as files
    from quarantine
    group by kind, reason_code
)

select * from final
order by rows_quarantined desc, kind, reason_code
