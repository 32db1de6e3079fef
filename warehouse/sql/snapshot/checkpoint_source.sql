-- write everything committed into the warehouse file itself, so a byte copy of the file is complete
checkpoint
