-- forget the abnormal viewers (the current set is inserted next)
delete from label_abnormal_viewers
