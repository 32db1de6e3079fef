-- feed impressions weighted by the examination propensity of their position (position 0 = 1): the debiased exposure
alter table labels add column if not exists effective_impressions double;
