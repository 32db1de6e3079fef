-- write everything committed into the file itself (nothing left in the write-ahead log)
checkpoint
