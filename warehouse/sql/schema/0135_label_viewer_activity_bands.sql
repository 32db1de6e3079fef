-- label_viewer_activity gains position_band: a viewer's counts per feed position band (floor(log2(1 +
-- position)), capped; -1 for other surfaces and unknown positions), one row per (viewer_id, position_band).
-- Rows stored before it are a viewer's totals (band -1) until the next full rebuild recounts them.
alter table label_viewer_activity add column if not exists position_band integer default -1;
