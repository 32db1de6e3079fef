-- the name of the connection's default database (the catalog the warehouse file is attached as)
select current_database() as catalog
