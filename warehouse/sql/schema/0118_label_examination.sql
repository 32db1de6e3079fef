-- estimated examination propensity of each exposure slot (surface, feed position; -1 = no position),
-- relative to feed position 0
create table if not exists label_examination (
    label_version varchar not null,
    surface varchar not null,
    position integer not null,
    propensity double not null,
    impressions bigint not null,
    views bigint not null,
    fitted_at timestamptz not null
);
