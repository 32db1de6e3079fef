-- organic impressions weighted by the examination propensity of their exposure slot (label_examination of the
-- state's label_version; a slot the curve lacks weighs 1): the COEC denominator of the view rate. Since it,
-- label_engagement_slots holds the slots of the examination sample only (see LabelConfig.examination_sample_buckets).
alter table label_engagement add column if not exists effective_impressions double default 0;
