-- erase label state: the subject's abnormal-viewer flag
delete from label_abnormal_viewers
where viewer_id = $subject_id
