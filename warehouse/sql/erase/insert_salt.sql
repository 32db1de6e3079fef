-- the salt of subject hashes, made once (a later erasure keeps the first salt, so hashes stay comparable)
insert into erasure_salt (salt, created_at)
select $salt, $created_at
where not exists (select 1 from erasure_salt)
