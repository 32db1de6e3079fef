-- how many times this export_id is recorded at this path (0 or 1)
select count(*) as recorded
from exports
where export_id = $export_id and path = $path
