-- how an export's DPO evidence rows became rows (read, excluded per row, merged into unordered pairs, dropped,
-- exported, by sources) and its prompt curriculum's size: JSON, null for exports recorded before this column
alter table exports add column if not exists pair_merging json;
