-- erase the subject's generations
delete from generations
where generation_id in (select generation_id from erase_subject_generations)
