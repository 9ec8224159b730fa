"""Print the Markdown tables of docs/results/search.md from finished study folders, beside the paper's read-offs.

Run:  .venv/bin/python scripts/search_doc_tables.py runs/search_cifar100 runs/search_cifar10
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd

from zcnas.report.markdown import markdown_table
from zcnas.search.study import LEVELS, summarise

#: REFERENCE section 9: the paper's NB-201 search figure (CIFAR-100 by inference), read off the figure.
PAPER = {
    ("random", "plain"): (72.05, None), ("random", "warmup1000"): (72.83, None),
    ("random", "warmup3000"): (73.15, 45), ("random", "warmup15625"): (73.22, 15),
    ("reinforce", "plain"): (72.27, None), ("reinforce", "move10"): (72.99, None),
    ("reinforce", "move100"): (73.17, 150), ("reinforce", "warmup1000"): (73.18, 145),
    ("reinforce", "warmup3000"): (73.22, 60), ("reinforce", "warmup15625"): (73.13, 145),
    ("evolution", "plain"): (73.25, 170), ("evolution", "move"): (73.25, 75),
    ("evolution", "warmup1000"): (73.25, 100), ("evolution", "warmup3000"): (73.25, 65),
    ("evolution", "warmup15625"): (73.25, 35), ("predictor", "plain"): (73.26, 60),
    ("predictor", "warmup256"): (73.22, 50), ("predictor", "warmup512"): (73.26, 45),
}


def main() -> None:
    for folder in map(Path, sys.argv[1:]):
        t = pd.read_parquet(folder / "trajectories.parquet")
        dataset = str(t["dataset"].iloc[0])
        table = summarise(t, levels=LEVELS.get(dataset, ()))
        seen = summarise(t, milestones=[300], column="best_test_seen").rename(columns={"at 300": "seen@300"})
        table = table.merge(seen[["algo", "variant", "seen@300"]], on=["algo", "variant"])
        if dataset == "cifar100":
            table["paper@300"] = [PAPER.get((a, v), (None, None))[0] for a, v in zip(table["algo"], table["variant"])]
            table["paper reach 73"] = [PAPER.get((a, v), (None, None))[1] for a, v in zip(table["algo"], table["variant"])]
        print(f"\n## {dataset}\n")
        print(markdown_table(table, ".2f"))
        shutil.copyfile(folder / "search.png", Path("docs/results") / f"search_{dataset}.png")


if __name__ == "__main__":
    main()
