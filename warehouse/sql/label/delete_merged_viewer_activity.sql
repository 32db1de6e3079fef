-- drop the stored counts of the viewers in `label_merged_viewer_activity` (their merged counts are inserted next)
delete from label_viewer_activity
where viewer_id in (select viewer_id from label_merged_viewer_activity)
