-- drop the label_priors rows of label version $label_version (the refit is inserted next)
delete from label_priors
where label_version = $label_version
