-- the salted hash of a subject id, as stored in erased_subjects and erasures
select sha256($subject_id || salt) as subject_hash
from erasure_salt
