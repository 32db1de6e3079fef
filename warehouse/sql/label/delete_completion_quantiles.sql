-- drop the label_completion_quantiles rows of label version $label_version (the refit is inserted next)
delete from label_completion_quantiles
where label_version = $label_version
