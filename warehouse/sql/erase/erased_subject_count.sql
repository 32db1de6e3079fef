-- how many subjects are erased (none: ingest skips the erased-subject check entirely)
select count(*) as subjects
from erased_subjects
