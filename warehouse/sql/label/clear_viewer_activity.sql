-- forget the running per-viewer counts (a full rebuild recounts every event)
delete from label_viewer_activity
