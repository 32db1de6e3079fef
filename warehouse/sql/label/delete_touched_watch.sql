-- drop the label_engagement_watch rows of the generations in `label_touched_generations` (re-aggregated next)
delete from label_engagement_watch
where generation_id in (select generation_id from label_touched_generations)
