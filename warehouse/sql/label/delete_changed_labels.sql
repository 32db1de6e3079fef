-- drop the current rows of the generations in `label_changes` (their new rows are inserted next)
delete from labels
where generation_id in (select generation_id from label_changes)
