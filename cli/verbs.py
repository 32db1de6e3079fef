"""The verbs of `reelloop`: where each one's sub-parser is built, and its one-line help.

Kept free of imports so that `reelloop --help` lists every verb without loading any of them;
only the verb a command line names has its module imported and its sub-parser built.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verb:
    """A verb: its name, `module:function` that adds its sub-parser, and its one-line help."""

    name: str
    register: str
    help: str


VERBS: tuple[Verb, ...] = (
    Verb("simulate", "cli.simulate:register_simulate", "write a simulated landing zone with hidden ground truth"),
    Verb("import-kuairand", "cli.simulate:register_import", "map a KuaiRand log CSV onto the event contract, as a landing zone"),
    Verb("ingest", "cli.ingest:register", "validate, dedup and load new landing files into the warehouse"),
    Verb("label", "cli.label:register_label", "debiased quality labels and preference pairs from the ingested events"),
    Verb("evaluate-labels", "cli.label:register_evaluate", "compare labels and pairs with a simulation's ground truth"),
    Verb("train", "cli.model:register_train", "train the preference model, evaluate it beside baselines, register it, maybe promote it"),
    Verb("score", "cli.model:register_score", "score generations not yet scored by the champion into `scores`"),
    Verb("score-prompt", "cli.model:register_score_prompt", "predicted quality of a new prompt under each model version"),
    Verb("rank", "cli.model:register_rank", "order a request's candidates by champion score"),
    Verb("export", "cli.export:register", "write DPO / KTO / reward preference datasets (Hugging Face layout)"),
    Verb("report", "cli.report:register", "render a static HTML report of the warehouse"),
    Verb("erase", "cli.erase:register", "erase one viewer's or creator's data from the warehouse (right to erasure)"),
    Verb("sql", "cli.sql:register", "query the read-only snapshot of the warehouse"),
    Verb("serve", "cli.serve:register", "serve every stage as a scheduled Prefect deployment (needs PREFECT_API_URL)"),
    Verb("doctor", "cli.doctor:register", "check versions, the Prefect API and the warehouse; one line per finding"),
    Verb("demo", "cli.demo:register", "run the whole loop on a simulated landing zone (simulate -> ... -> report)"),
)  # fmt: skip

VERB_NAMES: frozenset[str] = frozenset(verb.name for verb in VERBS)
