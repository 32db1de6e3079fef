-- whether the label stage has run on this warehouse (then erasure recomputes the labels at once)
select count(*) > 0 as labeled
from label_runs
