-- how noisy each studio pair source (select / regenerate) is: the sd, in quality-z units, of the choice
-- noise fitted by maximum likelihood on its votes; agreements / disagreements: votes the feed leans with / against
create table if not exists label_source_reliability (
    label_version varchar not null,
    source varchar not null,
    votes bigint not null,
    agreements bigint not null,
    disagreements bigint not null,
    noise_sd double not null,
    fitted_at timestamptz not null
);
