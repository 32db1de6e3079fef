-- a whole file that could not be read row by row (row_number 0 = the file itself), so it is never lost silently
insert into quarantine (source_file, row_number, kind, reason_code, detail, raw, quarantined_at)
values ($source_file, 0, $kind, $reason_code, $detail, null, $quarantined_at)
