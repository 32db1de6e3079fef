-- drop the exposure slots of the generations in `label_touched_generations` (re-aggregated next)
delete from label_engagement_slots
where generation_id in (select generation_id from label_touched_generations)
