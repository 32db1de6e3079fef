-- drop the label_source_reliability rows of label version $label_version (the refit is inserted next)
delete from label_source_reliability
where label_version = $label_version
