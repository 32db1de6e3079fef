-- no model is champion any more (the next statement crowns the new one, in the same transaction)
update model_registry
set is_champion = false
where is_champion
