-- erase export membership rows of the subject's generations (their export folders are not rewritten)
delete from export_rows
where generation_id in (select generation_id from erase_subject_generations)
