-- the fitted label model of a label version, one row per parameter (features.label_parameters): per signal
-- (`signal`) its intercept per duration bucket (`other` = bucket), loading, long-run variance, dispersion, unit
-- scale and shrink strength; per pair of signals (`signal`, `other`) the persistent covariance and the noise
-- correlation; the prior's effects (`other` = intercept, a model_version or an exposure group) and variance;
-- the duration and exposure group edges
create table if not exists label_model_parameters (
    label_version varchar not null,
    parameter varchar not null,
    signal varchar not null,
    other varchar not null,
    value double not null,
    fitted_at timestamptz not null
);
