-- erase every current pair with the subject's generation on either side
delete from preference_pairs
where chosen_generation_id in (select generation_id from erase_subject_generations)
    or rejected_generation_id in (select generation_id from erase_subject_generations)
