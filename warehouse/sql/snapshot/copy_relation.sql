-- materialise one relation into the snapshot being built; {snapshot} and {relation} are quoted identifiers
-- taken from the allowlist / catalog (never user input); returns the number of rows copied
create table {snapshot}.{relation} as
select * from {relation}
