-- free the erasure's working set of the subject's generation ids
drop table if exists erase_subject_generations
