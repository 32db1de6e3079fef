-- copy every live table, view, sequence and macro of the warehouse into the fresh file (freed pages stay behind)
copy from database {source} to {target}
