-- let go of the fresh file; {target} is its quoted alias
detach {target}
