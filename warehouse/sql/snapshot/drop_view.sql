-- {relation} is a quoted identifier from the catalog of the private snapshot copy
drop view {relation}
