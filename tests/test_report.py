"""Tests for zcnas.report: the scatter PNG, the Markdown table and the report file, all written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zcnas.atomic import atomic_open
from zcnas.evaluation import correlation_table
from zcnas.report import markdown_table, scatter_figure, scatter_grid, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _toy(n: int = 40, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    idx = [f"arch{i:03d}" for i in range(n)]
    t = pd.Series(rng.uniform(60, 95, size=n), index=idx, name="cifar10_test")
    scores = pd.DataFrame(
        {
            "synflow": t.to_numpy() + rng.normal(scale=5, size=n),
            "jacob_cov": t.to_numpy() + rng.normal(scale=8, size=n),
            "snip": t.to_numpy() + rng.normal(scale=10, size=n),
            "grasp": -t.to_numpy() + rng.normal(scale=10, size=n),
        },
        index=idx,
    )
    scores.iloc[0, 0] = np.nan
    return scores, t


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


# ------------------------------------------------------------------------------------ plots


def test_scatter_figure_has_one_panel_per_proxy_with_rho_in_the_title() -> None:
    scores, t = _toy()
    fig = scatter_figure(scores, t, title="NB201 C10")
    assert len(fig.axes) == 4
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("synflow  ρ = +") and "1 dropped" in titles[0]
    assert titles[3].startswith("grasp  ρ = -")  # signed
    assert fig.axes[0].get_ylabel() == "cifar10_test"
    # x is a rank percentile in (0, 100]; the NaN score is not drawn.
    offsets = fig.axes[0].collections[0].get_offsets()
    assert len(offsets) == 39 and 0 < offsets[:, 0].min() and offsets[:, 0].max() == pytest.approx(100.0)
    assert len(scatter_figure(scores, t, proxies=["snip", "grasp"]).axes) == 2


def test_scatter_grid_writes_a_valid_png_atomically(tmp_path: Path) -> None:
    scores, t = _toy()
    out = scatter_grid(scores, t, tmp_path / "figs" / "scatter.png", proxies=["synflow", "snip", "grasp"])
    assert out == tmp_path / "figs" / "scatter.png"
    data = out.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 1000
    assert _no_temp_files(out.parent)
    # Overwriting replaces the file in place, again without leftovers.
    scatter_grid(scores, t, out, proxies=["synflow"], title="again")
    assert out.read_bytes()[:8] == PNG_SIGNATURE and out.read_bytes() != data
    assert sorted(p.name for p in out.parent.iterdir()) == ["scatter.png"]


def test_scatter_errors_are_clear(tmp_path: Path) -> None:
    scores, t = _toy()
    with pytest.raises(KeyError, match="nope"):
        scatter_figure(scores, t, proxies=["nope"])
    with pytest.raises(ValueError, match="share no architecture"):
        scatter_grid(scores, pd.Series([1.0], index=["x"]), tmp_path / "a.png")
    assert list(tmp_path.iterdir()) == []


def test_all_nan_proxy_still_gets_a_panel() -> None:
    scores, t = _toy()
    scores["dead"] = np.nan
    fig = scatter_figure(scores, t, proxies=["dead"])
    assert len(fig.axes) == 1 and "nan" in fig.axes[0].get_title()


# ------------------------------------------------------------------------------------ markdown


def _parse(table: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("|")[1:-1]] for line in table.splitlines()]


def test_markdown_table_parses_back_to_the_values() -> None:
    df = pd.DataFrame(
        {"spearman": [0.73712, -0.48, np.nan], "n": [15625, 15600, 3], "ok": [True, False, True],
         "note": ["a", "b|c", None]},
        index=pd.Index(["synflow", "grasp", "vote"], name="proxy"),
    )
    rows = _parse(markdown_table(df))
    assert rows[0] == ["proxy", "spearman", "n", "ok", "note"]
    assert rows[1] == ["---", "---:", "---:", "---", "---"]
    assert rows[2] == ["synflow", "0.737", "15625", "True", "a"]
    assert rows[4] == ["vote", "nan", "3", "True", "nan"]
    assert markdown_table(df).splitlines()[3].endswith("| b\\|c |")  # escaped pipe
    assert _parse(markdown_table(df, floatfmt=".1f"))[3][1] == "-0.5"


def test_markdown_table_index_rules_and_infinities() -> None:
    df = pd.DataFrame({"x": [1.5, np.inf, -np.inf]})
    rows = _parse(markdown_table(df))
    assert rows[0] == ["x"] and [r[0] for r in rows[2:]] == ["1.500", "inf", "-inf"]
    assert _parse(markdown_table(df, index=True))[0] == ["", "x"]
    assert _parse(markdown_table(df.set_axis(["a", "b", "c"]), index=False))[0] == ["x"]
    with pytest.raises(ValueError):
        markdown_table(df, floatfmt="nonsense")


def test_correlation_table_round_trips_through_markdown() -> None:
    scores, t = _toy()
    table = correlation_table(scores, t)
    rows = _parse(markdown_table(table))
    assert rows[0] == ["proxy", *table.columns]
    assert [r[0] for r in rows[2:]] == list(table.index)
    by_name = {r[0]: r for r in rows[2:]}
    col = rows[0].index("spearman")
    for name in table.index:
        assert float(by_name[name][col]) == pytest.approx(table.loc[name, "spearman"], abs=5e-4)
    assert by_name["synflow"][rows[0].index("n_nan")] == "1"
    assert by_name["synflow"][rows[0].index("pairwise_agreement")] == "nan"


# ------------------------------------------------------------------------------------ report file


def test_write_report_embeds_images_with_relative_links(tmp_path: Path) -> None:
    scores, t = _toy()
    png = scatter_grid(scores, t, tmp_path / "figs" / "scatter c10.png")
    report = write_report(
        tmp_path / "report.md", "zcnas: NB201 CIFAR-10",
        [("Correlations", markdown_table(correlation_table(scores, t))), ("Notes", "vote is a pairwise rate\n")],
        [png],
    )
    text = report.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "# zcnas: NB201 CIFAR-10"
    assert "## Correlations" in lines and "## Notes" in lines and "## Figures" in lines
    assert "![scatter c10](figs/scatter%20c10.png)" in lines
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert _no_temp_files(tmp_path)
    # A report in a sibling folder links upwards.
    other = write_report(tmp_path / "sub" / "r.md", "t", [], [png])
    assert "![scatter c10](../figs/scatter%20c10.png)" in other.read_text(encoding="utf-8")


def test_write_report_refuses_missing_images_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.png"):
        write_report(tmp_path / "r.md", "t", [("a", "b")], [tmp_path / "missing.png"])
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_leaves_the_old_file_and_no_temp_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "r.md"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w", encoding="utf-8") as fh:
            fh.write("half written")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["r.md"]
