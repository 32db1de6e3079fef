-- erase simulator truth rows of the subject's generations
delete from report_truth
where generation_id in (select generation_id from erase_subject_generations)
