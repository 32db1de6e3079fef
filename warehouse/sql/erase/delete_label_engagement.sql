-- erase label state: clean engagement of the subject's generations
delete from label_engagement
where generation_id in (select generation_id from erase_subject_generations)
