-- erase labels of the subject's generations
delete from labels
where generation_id in (select generation_id from erase_subject_generations)
