-- how many generations of the subject are erased
select count(*) as generations
from erase_subject_generations
