-- empirical-Bayes Beta priors per signal and segment ('*' = all generations), as adopted by the label run;
-- trials_scale: pseudo-trials per observation (D2Q quantiles are less noisy than a yes/no outcome)
create table if not exists label_priors (
    label_version varchar not null,
    signal varchar not null,
    segment varchar not null,
    alpha double not null,
    beta double not null,
    generations bigint not null,
    trials_scale double not null,
    fitted_at timestamptz not null
);
