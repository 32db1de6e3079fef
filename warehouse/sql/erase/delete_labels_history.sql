-- erase earlier labels of the subject's generations
delete from labels_history
where generation_id in (select generation_id from erase_subject_generations)
