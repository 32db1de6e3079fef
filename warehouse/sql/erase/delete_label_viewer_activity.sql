-- erase label state: the subject's running event counts as a viewer
delete from label_viewer_activity
where viewer_id = $subject_id
