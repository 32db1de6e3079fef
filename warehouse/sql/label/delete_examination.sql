-- drop the label_examination rows of label version $label_version (the refit is inserted next)
delete from label_examination
where label_version = $label_version
