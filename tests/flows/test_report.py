"""`reelloop report` on a small simulated loop (simulate -> ingest -> label -> train -> report): every
section's numbers against direct SQL on the warehouse, the page's hygiene, and a headless-browser render
(the page rendered from tiny warehouses is tested in tests/report/test_page.py)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from scipy import stats

from report.config import ReportConfig
from report.data import ReportData
from report.derive import derive_report_data
from warehouse.connection import connect
from warehouse.report_data import read_report_views

CHROMIUM = Path(shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium")
MAX_REPORT_BYTES = 5 * 1024 * 1024
SIM_REQUESTS = 80
SIM_DAYS = 5


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> dict:
    """A warehouse filled by the real stages from a small simulation, and two consecutive reports:
    the first before any export, the second after one."""
    from flows.export import export_flow
    from flows.ingest import ingest_flow
    from flows.label import label_flow
    from flows.model import train_flow
    from flows.report import report_flow
    from landing.simulate import SimulationConfig, simulate_landing_zone

    root = tmp_path_factory.mktemp("report-loop")
    simulation = simulate_landing_zone(
        str(root / "sim"), SimulationConfig(requests=SIM_REQUESTS, days=SIM_DAYS)
    ).as_dict()
    db = root / "w.duckdb"
    truth = root / "sim" / "truth" / "generations.parquet"
    ingest_flow(db_path=str(db), landing_dir=str(root / "sim" / "landing"))
    label_flow(db_path=str(db))
    train_flow(db_path=str(db), truth_path=str(truth))
    first = report_flow(db_path=str(db), out_dir=str(root / "report-1"), truth_path=str(truth))
    export_flow(db_path=str(db), out_dir=str(root / "datasets"))
    summary = report_flow(db_path=str(db), out_dir=str(root / "report"), truth_path=str(truth))
    return {
        "db": db,
        "truth": truth,
        "html": Path(summary.path),
        "first_html": Path(first.path),
        "datasets": root / "datasets",
        "root": root,
        "simulation": simulation,
    }


@pytest.fixture(scope="module")
def page(loop: dict) -> str:
    return loop["html"].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def warehouse(loop: dict) -> duckdb.DuckDBPyConnection:
    con = connect(loop["db"])
    yield con
    con.close()


@pytest.fixture(scope="module")
def data(warehouse: duckdb.DuckDBPyConnection) -> ReportData:
    return derive_report_data(read_report_views(warehouse, with_truth=True), ReportConfig())


def section(page: str, section_id: str) -> str:
    """The HTML of one <section id=...>."""
    match = re.search(rf'<section id="{section_id}">(.*?)</section>', page, re.S)
    assert match, f"no section {section_id}"
    return match.group(1)


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchall()[0][0]


def test_report_is_self_contained_small_and_has_no_raw_rows(
    page: str, warehouse: duckdb.DuckDBPyConnection, loop: dict
) -> None:
    assert loop["html"].stat().st_size < MAX_REPORT_BYTES
    for section_id in (
        "changes",
        "overview",
        "versions",
        "prompts",
        "funnel",
        "biases",
        "health",
        "model",
        "truth",
        "exports",
    ):
        section(page, section_id)
    assert "<script" not in page and "<link" not in page
    assert not re.search(r'(src|href)="(https?:|//)', page)
    some_ids = [
        r[0] for r in warehouse.execute("select generation_id from labels limit 50").fetchall()
    ]
    some_ids += [r[0] for r in warehouse.execute("select event_id from events limit 50").fetchall()]
    assert not [i for i in some_ids if i in page]


def test_model_versions_match_direct_sql(
    data: ReportData, page: str, warehouse: duckdb.DuckDBPyConnection
) -> None:
    direct = warehouse.execute(
        "select coalesce(l.model_version, g.model_version), l.quality_score "
        "from labels l left join generations g using (generation_id)"
    ).fetchall()
    by_version: dict[str, list[float]] = {}
    for version, quality in direct:
        by_version.setdefault(version, []).append(quality)
    got = {r["model_version"]: r for r in data.version_quality.to_dicts()}
    assert set(got) == set(by_version)
    versions_html = section(page, "versions")
    for version, values in by_version.items():
        values_array = np.array(values)
        assert got[version]["generations"] == len(values)
        assert got[version]["mean_quality"] == pytest.approx(values_array.mean())
        if len(values) > 1:
            low, high = stats.t.interval(
                0.95, len(values) - 1, loc=values_array.mean(), scale=stats.sem(values_array)
            )
            assert got[version]["ci_low"] == pytest.approx(low)
            assert got[version]["ci_high"] == pytest.approx(high)
        assert f"<td>{values_array.mean():.3f}</td>" in versions_html.replace(' class=""', "")
    for pair in data.version_pairs.to_dicts():
        expected = stats.ttest_ind(
            by_version[pair["version_a"]], by_version[pair["version_b"]], equal_var=False
        ).pvalue
        assert pair["p_value"] == pytest.approx(expected, rel=1e-6, abs=1e-12)
        assert pair["p_holm"] >= pair["p_value"]


def test_prompt_weaknesses_match_a_python_recount(
    data: ReportData, warehouse: duckdb.DuckDBPyConnection
) -> None:
    rows = warehouse.execute(
        "select g.prompt, l.quality_score from labels l join generations g using (generation_id)"
    ).fetchall()
    assert not data.weakest_unigrams.is_empty()
    for record in data.weakest_unigrams.head(3).to_dicts():
        hits = [
            q for prompt, q in rows if record["ngram"] in set(re.split(r"[\W_]+", prompt.lower()))
        ]
        assert record["generations"] == len(hits)
        assert record["mean_quality"] == pytest.approx(float(np.mean(hits)))
    for record in data.weakest_clauses.head(3).to_dicts():
        hits = [
            q
            for prompt, q in rows
            if record["clause"] in {c.strip() for c in prompt.lower().split(",")}
        ]
        assert record["generations"] == len(hits) >= data.config.ngram_min_generations
        assert record["mean_quality"] == pytest.approx(float(np.mean(hits)))


def test_funnel_matches_direct_sql(data: ReportData, warehouse: duckdb.DuckDBPyConnection) -> None:
    pairs = warehouse.execute(
        "select count(*) filter (where shown), count(*) filter (where shown and viewed) from ("
        " select bool_or(event_type = 'impression') shown, bool_or(event_type = 'view') viewed"
        " from events where coalesce(surface, '') <> 'studio' group by viewer_id, generation_id)"
    ).fetchall()[0]
    total = {
        r["stage"]: r["pairs"]
        for r in data.funnel.filter(pl.col("model_version") == "(all)").to_dicts()
    }
    assert (total["shown"], total["viewed"]) == pairs
    assert total["shown"] >= total["viewed"] >= total["completed"] >= 0
    assert total["viewed"] >= max(total["liked"], total["shared"], total["downloaded"])
    per_version = data.funnel.filter(
        (pl.col("model_version") != "(all)") & (pl.col("stage") == "shown")
    )
    assert per_version["pairs"].sum() == total["shown"]


def test_bias_curves_match_direct_sql(
    data: ReportData, warehouse: duckdb.DuckDBPyConnection
) -> None:
    impressions, views = warehouse.execute(
        "select count(*) filter (where event_type = 'impression'), count(*) filter (where event_type = 'view') "
        "from events where surface = 'feed' and position = 0"
    ).fetchall()[0]
    top = data.position_bias.filter(pl.col("position") == 0).row(0, named=True)
    assert (top["impressions"], top["views"]) == (impressions, views)
    assert top["raw_view_rate"] == pytest.approx(views / impressions)
    clean_views, clean_impressions, propensity = warehouse.execute(
        "select sum(views), sum(impressions), "
        "(select propensity from label_examination where surface = 'feed' and position = 3 "
        " order by fitted_at desc limit 1) "
        "from label_engagement_slots where surface = 'feed' and position = 3"
    ).fetchall()[0]
    slot = data.position_bias.filter(pl.col("position") == 3).row(0, named=True)
    assert slot["corrected_view_rate"] == pytest.approx(
        float(clean_views) / (float(clean_impressions) * propensity)
    )
    # dividing out examination flattens the curve: relative to the top, a deeper slot regains the
    # top's propensity over its own (>= 1: examination never rises down the feed; a thin slot may
    # share the propensity of the one above)
    top_propensity = scalar(
        warehouse,
        "select propensity from label_examination where surface = 'feed' and position = 0 "
        "order by fitted_at desc limit 1",
    )
    assert propensity <= top_propensity
    assert slot["corrected_vs_top"] == pytest.approx(
        slot["clean_vs_top"] * top_propensity / propensity
    )
    views_all, completions = warehouse.execute(
        "select count(*), count(*) filter (where e.watch_ms >= g.duration_ms) from events e "
        "join generations g using (generation_id) where e.event_type = 'view' and e.watch_ms is not null"
    ).fetchall()[0]
    assert data.duration_bias["views"].sum() == views_all
    assert data.duration_bias["completions"].sum() == completions
    labeled_mean = scalar(
        warehouse, "select avg(completion_score) from labels where completion_score is not null"
    )
    weights = data.duration_bias["labeled_generations"]
    pooled = (
        data.duration_bias["mean_completion_score"].fill_null(0) * weights
    ).sum() / weights.sum()
    assert pooled == pytest.approx(labeled_mean)


def test_data_health_matches_direct_sql(
    data: ReportData, page: str, warehouse: duckdb.DuckDBPyConnection, loop: dict
) -> None:
    loop_summary = loop["simulation"]
    assert data.ingest_files["rows_read"].sum() == scalar(
        warehouse, "select sum(rows_read) from ingest_files"
    )
    assert data.ingest_files["rows_duplicate"].sum() == scalar(
        warehouse, "select sum(rows_duplicate) from ingest_files"
    )
    direct_reasons = dict(
        warehouse.execute("select reason_code, count(*) from quarantine group by 1").fetchall()
    )
    got_reasons: dict[str, int] = {}
    for r in data.quarantine_reasons.to_dicts():
        got_reasons[r["reason_code"]] = got_reasons.get(r["reason_code"], 0) + r["rows_quarantined"]
    assert got_reasons == direct_reasons and direct_reasons
    late = scalar(
        warehouse,
        "with days as (select source_file, timezone('UTC', occurred_at)::date as day from events), "
        "per_day as (select source_file, day, row_number() over (partition by source_file "
        "order by count(*) desc, day desc) as rank from days group by source_file, day) "
        "select count(*) from days join per_day p using (source_file) where p.rank = 1 and days.day < p.day",
    )
    assert data.late_events == late > 0
    simulated_late = loop_summary["late_event_rows"]
    assert 0.8 * simulated_late <= late <= 1.2 * simulated_late + 5
    bots = scalar(warehouse, "select count(distinct viewer_id) from label_abnormal_viewers")
    assert data.abnormal_viewers["viewers"].sum() == bots
    health = section(page, "health")
    assert f"<b>{late:,}</b>late events" in health
    assert f"<b>{bots:,}</b>bot / abnormal viewers removed" in health


def test_model_section_shows_the_champion_against_baselines(
    data: ReportData, page: str, warehouse: duckdb.DuckDBPyConnection
) -> None:
    model_id, metrics = warehouse.execute(
        "select model_id, metrics from model_registry where is_champion order by created_at desc limit 1"
    ).fetchall()[0]
    metrics = json.loads(metrics)
    assert data.champion_metrics == metrics
    model_html = html.unescape(section(page, "model"))
    assert model_id in model_html
    accuracy = metrics["evaluation"]["pair_accuracy"]
    assert f"{accuracy:.4f}" in model_html
    for name in metrics["baselines"]:
        assert name in model_html
    assert data.champion_history.height == scalar(
        warehouse, "select count(*) from champion_history"
    )


def test_calibration_plot_is_drawn_for_a_freshly_trained_champion(page: str) -> None:
    model_html = section(page, "model")
    assert 'aria-label="calibration of the champion"' in model_html
    assert "no reliability bins" not in model_html


def text_of(html_text: str) -> str:
    """Visible text of a piece of the page, cells separated by `|`."""
    cells = re.sub(r"</t[dh]>", "|", html_text)
    return html.unescape(re.sub(r"<[^>]+>", "", cells))


def test_what_changed_compares_two_consecutive_runs(
    page: str, loop: dict, warehouse: duckdb.DuckDBPyConnection
) -> None:
    first = section(loop["first_html"].read_text(encoding="utf-8"), "changes")
    assert "First report of this warehouse" in first
    runs = warehouse.execute("select figures from report_runs order by run_at").fetchall()
    assert len(runs) == 2
    before, now = (
        {(f["group"], f["figure"]): f["value"] for f in json.loads(r[0])["figures"]} for r in runs
    )
    export_id = json.loads((loop["datasets"] / "manifest.json").read_text())["export_id"]
    assert before[("export", "latest export")] is None
    assert now[("export", "latest export")] == export_id
    assert {k for k in now if now[k] != before[k]} == {
        ("export", name)
        for name in (
            "latest export",
            "dpo rows",
            "kto rows",
            "reward rows",
            "prompts rows",
            "rows excluded",
            "DPO evidence rows folded",
        )
    }
    changes = text_of(section(page, "changes"))
    verdict = changes.split("\n")[0] if "\n" in changes else changes
    assert (
        "Changed since the previous report" in verdict
        and f"latest export – → {export_id}" in verdict
    )
    labeled = scalar(warehouse, "select count(*) from labels")
    assert f"labels|labeled generations|{labeled:,}|{labeled:,}|" in changes
    dpo_rows = sum(
        json.loads((loop["datasets"] / "dpo" / "manifest.json").read_text())["counts"].values()
    )
    assert f"export|dpo rows|–|{dpo_rows:,}|" in changes


def test_export_section_matches_the_manifest(page: str, loop: dict) -> None:
    exports = text_of(section(page, "exports"))
    root = json.loads((loop["datasets"] / "manifest.json").read_text())
    assert root["export_id"] in exports
    for dataset, summary in root["datasets"].items():
        counts = summary["counts"]
        cells = "|".join(f"{counts[s]:,}" if s in counts else "–" for s in ("test", "train"))
        assert f"{dataset}|{cells}|{sum(counts.values()):,}|" in exports
        for reason, rows in summary["excluded"].items():
            if rows:
                assert f"{dataset}|{reason}|{rows:,}|" in exports
    merging = json.loads((loop["datasets"] / "dpo" / "manifest.json").read_text())["pair_merging"]
    assert f"{merging['evidence_rows']:,}evidence rows read" in exports
    assert f"{merging['merged_pairs']:,}unordered pairs" in exports
    assert f"{merging['exported_pairs']:,}DPO rows exported" in exports


def test_truth_section_matches_scipy(
    data: ReportData, page: str, warehouse: duckdb.DuckDBPyConnection, loop: dict
) -> None:
    labels = pl.from_arrow(
        warehouse.sql("select generation_id, quality_score from labels").to_arrow_table()
    )
    truth = pl.read_parquet(loop["truth"]).select("generation_id", "true_quality")
    joined = labels.join(truth, on="generation_id")
    expected = stats.spearmanr(joined["quality_score"], joined["true_quality"]).statistic
    assert data.truth is not None
    assert data.truth.agreement["generations"] == joined.height
    assert data.truth.agreement["spearman"] == pytest.approx(expected)
    assert int(data.truth.hist2d.sum()) == joined.height
    assert f"<b>{expected:.3f}</b>Spearman" in section(page, "truth")


def test_cli_report_and_its_user_errors(
    loop: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    out = tmp_path / "cli-report"
    assert main(["--db", str(loop["db"]), "report", "--out", str(out)]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'id="truth"' not in page  # no --truth: no truth section
    assert main(["--db", str(tmp_path / "missing.duckdb"), "report", "--out", str(out)]) == 2
    assert "warehouse not found" in capsys.readouterr().err
    assert (
        main(
            [
                "--db",
                str(loop["db"]),
                "report",
                "--out",
                str(out),
                "--truth",
                str(tmp_path / "no.parquet"),
            ]
        )
        == 2
    )
    assert "truth file not found" in capsys.readouterr().err


def test_report_views_reach_the_snapshot(loop: dict) -> None:
    from warehouse.resource import Warehouse

    with Warehouse.at(loop["db"]).snapshot() as snap:
        relations = {
            r[0]
            for r in snap.execute(
                "select table_name from duckdb_tables() union select view_name from duckdb_views()"
            ).fetchall()
        }
    assert {"report_model_version_quality", "report_funnel", "report_truth_agreement"} <= relations


# ---------------------------------------------------------------------------- headless browser


def chromium_render(
    html_path: Path, screenshot: Path, profile: Path, height: int = 4000
) -> list[str]:
    """Screenshot `html_path` in headless Chromium; returns the console lines it logged."""
    result = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={screenshot}",
            f"--window-size=1280,{height}",
            "--enable-logging=stderr",
            "--v=0",
            html_path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason="headless Chromium not installed (run .ci/install-chromium)",
)
def test_report_renders_in_headless_chromium_without_console_errors(
    loop: dict, tmp_path: Path
) -> None:
    # in CI a missing browser fails the run: a skip there would pass a report nobody rendered
    assert CHROMIUM.exists(), (
        f"headless Chromium not found at {CHROMIUM}: .ci/install-chromium failed"
    )
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<html><body><script>missingFunction();</script></body></html>", encoding="utf-8"
    )
    assert chromium_render(broken, tmp_path / "broken.png", tmp_path / "profile-a", 300), (
        "console capture works"
    )
    screenshot = loop["root"] / "report.png"
    console = chromium_render(loop["html"], screenshot, tmp_path / "profile-b")
    assert console == []
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
