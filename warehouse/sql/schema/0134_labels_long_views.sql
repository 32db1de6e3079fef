-- labels and labels_history gain long_views (see label_engagement) and the label model's quality_z (the posterior
-- mean of the latent quality; quality_score = Phi(quality_z)) with long_run_sd (the sd of the long-run label
-- given the data: [quality_low, quality_high] = Phi(quality_z -/+ 1.645 long_run_sd) at 90%)
alter table labels add column if not exists long_views bigint;
alter table labels add column if not exists quality_z double;
alter table labels add column if not exists long_run_sd double;
alter table labels_history add column if not exists long_views bigint;
alter table labels_history add column if not exists quality_z double;
alter table labels_history add column if not exists long_run_sd double;
