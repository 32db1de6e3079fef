-- label quality of the generations whose prompt contains each word 1-gram and 2-gram
-- (lower-cased, split on anything that is not a letter or digit; a 2-gram never spans a comma or a sentence
-- break; an n-gram counts once per prompt), raw and
-- adjusted for the model version that served each generation (its quality minus its version's mean)
-- reads: report_labeled_prompts (created before it); no parameters
create or replace view report_prompt_ngrams as
with

version_adjusted as (
    select generation_id, prompt, quality_score, quality_adjusted
    from report_labeled_prompts
),

clause_words as (
    select
        generation_id,
        quality_score,
        quality_adjusted,
        list_filter(
            string_split(regexp_replace(clause, '[^\p{L}\p{N}]+', ' ', 'g'), ' '),
            lambda w: w <> ''
        ) as words
    from (
        select
            generation_id,
            quality_score,
            quality_adjusted,
            unnest(regexp_split_to_array(lower(prompt), '[,.;:!?]')) as clause
        from version_adjusted
    )
),

unigrams as (
    select generation_id, quality_score, quality_adjusted, 1 as ngram_words, unnest(words) as ngram
    from clause_words
),

bigrams as (
    select
        generation_id,
        quality_score,
        quality_adjusted,
        2 as ngram_words,
        unnest(list_transform(range(1, len(words)), lambda i: words[i] || ' ' || words[i + 1])) as ngram
    from clause_words
),

ngram_generations as (
    select distinct generation_id, quality_score, quality_adjusted, ngram_words, ngram from unigrams
    union all
    select distinct generation_id, quality_score, quality_adjusted, ngram_words, ngram from bigrams
),

final as (
    select
        ngram,
        ngram_words,
        count(*) as generations,
        avg(quality_score) as mean_quality,
        stddev_samp(quality_score) as sd_quality,
        avg(quality_adjusted) as mean_adjusted,
        stddev_samp(quality_adjusted) as sd_adjusted
    from ngram_generations
    group by ngram, ngram_words
)

select * from final
order by ngram_words, ngram
