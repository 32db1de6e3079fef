-- erase preference-model scores of the subject's generations
delete from scores
where generation_id in (select generation_id from erase_subject_generations)
