-- make one registered model the champion
update model_registry
set is_champion = true
where model_id = $model_id
