-- rows of one relation; {relation} is a quoted identifier from the allowlist / catalog
select count(*) as row_count
from {relation}
