-- attach the fresh file the warehouse is rewritten into (path bound as a parameter); {target} is its quoted alias
attach ? as {target}
