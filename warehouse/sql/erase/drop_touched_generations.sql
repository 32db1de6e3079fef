-- free the erasure's working set of generation ids the subject's data reaches
drop table if exists erase_touched_generations
