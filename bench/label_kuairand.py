"""Labels on a real log: do KuaiRand labels from days 1-4 predict the same videos' days 5-7 engagement?

    python bench/label_kuairand.py [--csv PATH] [--split-date 20220429] [--work DIR]

The log is split by its own `date` column (China time): days before --split-date are imported
(`landing.kuairand`), ingested and labelled by the real stages; the later days are the target,
computed straight from the CSV per video: rank(long-view rate) + rank(like rate) per impression.
Printed: the Spearman with the target of the label and of every raw days 1-4 rate from the same CSV
(each per impression, completion per play), over the videos shown in both parts; exit 1 when a raw
rate predicts the later days at least as well as the label.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import rankdata, spearmanr

from features.label_config import LabelConfig
from pipelines.ingest import ingest
from pipelines.kuairand import import_kuairand
from pipelines.label import label
from warehouse.resource import Warehouse

DEFAULT_CSV = (
    Path(__file__).resolve().parents[2] / "shared/data/kuairand/log_standard_20220425_20220501.csv"
)
BINARY_RATES = (
    "is_click",
    "long_view",
    "is_like",
    "is_follow",
    "is_comment",
    "is_forward",
    "is_hate",
    "is_profile_enter",
)


def per_video(log: pl.DataFrame) -> pl.DataFrame:
    """Every raw rate per video: binary columns per impression, the view rate the label stage reads
    (play_time_ms > 0 per impression), play time per impression, completion (play / duration, capped
    at 1) per click, and the impressions."""
    known = pl.col("duration_ms") > 1
    return log.group_by("video_id").agg(
        impressions=pl.len(),
        **{f"{c}_rate": pl.col(c).mean() for c in BINARY_RATES},
        play_rate=(pl.col("play_time_ms") > 0).mean(),
        play_ms_per_impression_rate=pl.col("play_time_ms").mean(),
        completion=(pl.col("play_time_ms") / pl.col("duration_ms"))
        .clip(0, 1)
        .filter(known & (pl.col("is_click") == 1))
        .mean(),
    )


def later_target(later: pl.DataFrame) -> pl.DataFrame:
    """Per video of the later days: rank(long-view rate) + rank(like rate)."""
    rates = per_video(later)
    target = rankdata(rates["long_view_rate"].to_numpy()) + rankdata(
        rates["is_like_rate"].to_numpy()
    )
    return rates.select("video_id").with_columns(target=pl.Series(target))


def labelled_videos(csv_part: Path, work: Path) -> pl.DataFrame:
    """Import, ingest and label one CSV: video_id, quality_score, label per labelled video."""
    import_kuairand(str(csv_part), str(work / "landing"))
    warehouse = Warehouse.at(work / "kr.duckdb")
    ingest(warehouse, str(work / "landing"))
    label(warehouse, LabelConfig())
    with warehouse.writer(publish=False) as con:
        labels = con.sql("select generation_id, quality_score, label from labels").pl()
    return labels.with_columns(
        video_id=pl.col("generation_id").str.strip_prefix("kr-v").cast(pl.Int64)
    ).drop("generation_id")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument(
        "--split-date", type=int, default=20220429, help="first later day (yyyymmdd)"
    )
    parser.add_argument("--work", type=Path, help="keep the files here (default: temp)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="label-kuairand-"))
    work.mkdir(parents=True, exist_ok=True)
    log = pl.read_csv(args.csv)
    earlier = log.filter(pl.col("date") < args.split_date)
    later = log.filter(pl.col("date") >= args.split_date)
    earlier_csv = work / "earlier.csv"
    earlier.write_csv(earlier_csv)
    labels = labelled_videos(earlier_csv, work)
    frame = (
        labels.join(per_video(earlier), on="video_id")
        .join(later_target(later), on="video_id")
        .sort("video_id")
    )
    target = frame["target"].to_numpy()
    print(
        f"{earlier.height} earlier / {later.height} later log rows; {frame.height} videos in both"
    )
    print("labels: " + ", ".join(f"{k} {v}" for k, v in labels["label"].value_counts().iter_rows()))
    scores = {"label (quality_score)": frame["quality_score"].to_numpy()}
    scores |= {f"raw {c}": frame[c].to_numpy() for c in frame.columns if c.endswith("_rate")}
    scores["raw completion"] = frame["completion"].to_numpy()
    rows = []
    for name, values in scores.items():
        ok = np.isfinite(values.astype(np.float64))
        rows.append((name, float(spearmanr(values[ok], target[ok])[0]), int(ok.sum())))
    for name, rho, n in rows:
        print(f"  {name:26s} {rho:.3f}  (n={n})")
    best_raw = max(rows[1:], key=lambda r: r[1])
    print(f"label {rows[0][1]:.3f} vs best raw {best_raw[0]} {best_raw[1]:.3f}")
    return 0 if rows[0][1] > best_raw[1] else 1


if __name__ == "__main__":
    sys.exit(main())
