-- erase label state: exposure slots of the subject's generations
delete from label_engagement_slots
where generation_id in (select generation_id from erase_subject_generations)
