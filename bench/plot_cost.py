"""Plot the cost curve of a milvus-cdc benchmark report.

Reads the report JSON that bench/cmd/bench writes (bench/results/latest.json)
and draws, per MQ, the daemon's RSS and CPU against the number of tasks (one
collection each) and the number of collections (under one task), idle and
under the curve's fixed load. `make bench-plot` runs it in a virtual
environment with matplotlib; `make bench` runs it after the measurements.

Usage: plot_cost.py REPORT.json OUT.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")  # no display: write the file only
import matplotlib.pyplot as plt  # noqa: E402

KINDS = (("tasks", "tasks (one collection each)"), ("collections", "collections under one task"))
SERIES = (
    ("idle_rss_mib", "RSS MiB", "idle", "o-"),
    ("load_rss_mib", "RSS MiB", "under load (mean)", "s--"),
    ("load_peak_rss_mib", "RSS MiB", "under load (peak)", "^:"),
)
CPU_SERIES = (
    ("idle_cpu_cores", "idle", "o-"),
    ("load_cpu_cores", "under load", "s--"),
)


def points_of(curve, kind):
    """The curve's measured points of one kind, sorted by their count."""
    count = "tasks" if kind == "tasks" else "collections"
    pts = [p for p in curve.get("points") or [] if p.get("kind") == kind and not p.get("error")]
    return sorted(pts, key=lambda p: p[count]), count


def plot(report, out):
    curves = report.get("cost_curve") or []
    if not curves:
        print(f"plot_cost: {out} not written: the report has no cost curve", file=sys.stderr)
        return False
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), squeeze=False)
    for col, (kind, label) in enumerate(KINDS):
        ax_rss, ax_cpu = axes[0][col], axes[1][col]
        for i, curve in enumerate(curves):
            color = f"C{i}"  # one colour per MQ, one line style per series
            pts, count = points_of(curve, kind)
            if not pts:
                continue
            xs = [p[count] for p in pts]
            name = f"{curve['mq']}/{curve['mode']}"
            for key, _, series, style in SERIES:
                ax_rss.plot(xs, [p[key] for p in pts], style, color=color, label=f"{name} {series}")
            for key, series, style in CPU_SERIES:
                ax_cpu.plot(xs, [100 * p[key] for p in pts], style, color=color, label=f"{name} {series}")
        counts = sorted({p[points_of(c, kind)[1]] for c in curves for p in points_of(c, kind)[0]})
        for ax, ylabel in ((ax_rss, "daemon RSS (MiB)"), (ax_cpu, "daemon CPU (% of one core)")):
            ax.set_xscale("log", base=2)
            if counts:
                ax.set_xticks(counts, [str(n) for n in counts])
            ax.set_xlabel(label)
            ax.set_ylabel(ylabel)
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            if ax.has_data():
                ax.legend(fontsize=7)
    load = curves[0]
    fig.suptitle(
        f"milvus-cdc cost curve, commit {report.get('commit', '?')}, {report.get('date', '?')}\n"
        f"load {load.get('load_rows_per_s', 0):.0f} rows/s of dim {load.get('dim')} in batches of {load.get('batch')} "
        f"over all collections; idle {load.get('idle_s', 0):.0f} s, load {load.get('load_s', 0):.0f} s per point",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"plot_cost: wrote {out}", file=sys.stderr)
    return True


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        report = json.load(f)
    plot(report, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
