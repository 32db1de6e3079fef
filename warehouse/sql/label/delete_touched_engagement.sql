-- drop the engagement rows of the generations in `label_touched_generations` (re-aggregated next)
delete from label_engagement
where generation_id in (select generation_id from label_touched_generations)
