-- drop the pairs listed for removal in `label_pair_changes`
delete from preference_pairs
where pair_id in (select pair_id from label_pair_changes where change = 'remove')
