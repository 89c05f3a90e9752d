"""The load-curve chart as a PNG (matplotlib, server-side): production and control per hour, their baselines, the
ceiling during the alert and the alert periods shaded. The screens show it and a flag's case gets it attached."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from app.power.curves import Curves

FONTS = ["Noto Sans CJK SC", "Noto Serif CJK SC", "Noto Sans CJK JP", "Noto Serif CJK JP", "WenQuanYi Zen Hei",
         "DejaVu Sans"]  # fmt: skip
LEVEL_COLOURS = {"yellow": "#f5d76e", "orange": "#f5a35c", "red": "#e06666"}


def png(curves: Curves, title: str, labels: dict[str, str]) -> bytes:
    """`labels`: the legend's words in the reader's language (production, control, baseline…, ceiling, alert)."""
    plt.rcParams["font.sans-serif"] = FONTS
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["axes.unicode_minus"] = False
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    h = curves.hours
    if len(h):
        ax.plot(h["at"], h["production"], color="#1f4e79", lw=1.4, label=labels["production"])
        ax.plot(h["at"], h["production_baseline"], color="#1f4e79", lw=1, ls="--", label=labels["production_baseline"])
        ax.plot(h["at"], h["control"], color="#2e7d32", lw=1.4, label=labels["control"])
        ax.plot(h["at"], h["control_baseline"], color="#2e7d32", lw=1, ls="--", label=labels["control_baseline"])
        ax.plot(h["at"], h["ceiling"], color="#c62828", lw=1.2, ls=":", label=labels["ceiling"])
    for n, (start, end, level) in enumerate(curves.periods):
        ax.axvspan(start, end, color=LEVEL_COLOURS.get(level, "#dddddd"), alpha=0.25,
                   label=labels["alert"] if n == 0 else None)  # fmt: skip
    ax.set_title(title)
    ax.set_ylabel("kWh")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=8, ncol=3)
    else:
        ax.text(0.5, 0.5, labels.get("empty", "-"), ha="center", va="center", transform=ax.transAxes)
    fig.autofmt_xdate()
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()
