-- {relation} and {new_name} are quoted identifiers from the catalog of the private snapshot copy
alter table {relation} rename to {new_name}
