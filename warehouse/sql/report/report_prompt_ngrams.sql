-- label quality of the generations whose prompt contains each word 1-gram and 2-gram
-- (lower-cased, split on anything that is not a letter or digit; an n-gram counts once per prompt)
-- reads: labels, generations; no parameters
create or replace view report_prompt_ngrams as
with

labels as (
    select generation_id, quality_score
    from labels
),

generations as (
    select generation_id, prompt
    from generations
),

prompt_words as (
    select
        labels.generation_id,
        labels.quality_score,
        list_filter(
            string_split(regexp_replace(lower(generations.prompt), '[^\p{L}\p{N}]+', ' ', 'g'), ' '),
            lambda w: w <> ''
        ) as words
    from labels
    inner join generations using (generation_id)
),

unigrams as (
    select generation_id, quality_score, 1 as ngram_words, unnest(words) as ngram
    from prompt_words
),

bigrams as (
    select
        generation_id,
        quality_score,
        2 as ngram_words,
        unnest(list_transform(range(1, len(words)), lambda i: words[i] || ' ' || words[i + 1])) as ngram
    from prompt_words
),

ngram_generations as (
    select distinct generation_id, quality_score, ngram_words, ngram from unigrams
    union all
    select distinct generation_id, quality_score, ngram_words, ngram from bigrams
),

final as (
    select
        ngram,
        ngram_words,
        count(*) as generations,
        avg(quality_score) as mean_quality,
        stddev_samp(quality_score) as sd_quality
    from ngram_generations
    group by ngram, ngram_words
)

select * from final
order by ngram_words, ngram
