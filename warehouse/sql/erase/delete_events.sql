-- erase the subject's own events (as a viewer) and every event on the subject's generations
delete from events
where viewer_id = $subject_id
    or generation_id in (select generation_id from erase_subject_generations)
