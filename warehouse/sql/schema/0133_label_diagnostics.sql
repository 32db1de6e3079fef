-- truth-free checks of each label run, one row per run and score: the label itself (score = 'label') and every
-- raw rate. split_half: Spearman between the score computed on one viewer half and on the other; temporal:
-- Spearman between the score from each generation's first LabelConfig.temporal_split_hours and from the rest;
-- studio_agreement: share of studio choices (selected over shown siblings) the score orders the same way. The
-- label row says whether it beats the best raw rate on every check it could be computed on (beats_best_raw)
-- and carries the warning when it does not. loading / quality_share / weight: the fitted label model's view of
-- the signal (null for rates that are not model signals).
create table if not exists label_diagnostics (
    computed_at timestamptz not null,
    label_version varchar not null,
    score varchar not null,
    kind varchar not null,
    split_half double,
    split_half_generations bigint not null,
    temporal double,
    temporal_generations bigint not null,
    studio_agreement double,
    studio_votes bigint not null,
    loading double,
    quality_share double,
    weight double,
    beats_best_raw boolean,
    warning varchar
);
