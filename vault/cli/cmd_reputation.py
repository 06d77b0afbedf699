"""`vault reputation`: the per-marketplace summary."""

from __future__ import annotations

from . import app, context


@app.command(
    "reputation",
    epilog=(
        "Examples:\n\n"
        "  vault reputation\n\n"
        "  vault reputation --json | jq '.marketplaces.ebay.percent_positive'\n\n"
        "The JSON shape is documented in vault/ratings/reputation.py; `vault publish` signs the same figures."
    ),
)
def reputation_cmd() -> None:
    """Per-marketplace summary: counts by polarity, % positive (12 months, all time), stars, sources."""
    from ..ratings.reputation import summarize

    with context.open_vault(unlock=True) as vault:
        summary = summarize(vault.catalog())
    context.render(summary, _render_summary)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _render_summary(s: dict) -> None:
    markets = s["marketplaces"]
    if not markets:
        context.say("no ratings yet: import an eBay or Etsy export, or run `vault scrape ebay USER`")
        return
    window = s["window"]
    for source, m in markets.items():
        dr = m["date_range"]
        span = f"{(dr['oldest'] or '?')[:10]} .. {(dr['newest'] or '?')[:10]}" if dr["oldest"] else "no dates"
        context.say(f"{source}  {m['ratings']} ratings  ({span})")
        context.say(f"  {'':<20}{'positive':>9}{'neutral':>9}{'negative':>9}{'% positive':>12}")
        rows = [
            ("received, 12 months", m["last_12_months"]["received"], m["percent_positive"]["last_12_months"]),
            ("received, all time", m["received"], m["percent_positive"]["all_time"]),
            ("left, 12 months", m["last_12_months"]["left"], None),
            ("left, all time", m["left"], None),
        ]
        for label, c, pct in rows:
            if label.startswith("left") and not m["left"]["total"]:
                continue
            shown = _pct(pct) if label.startswith("received") else ""
            context.say(f"  {label:<20}{c['positive']:>9}{c['neutral']:>9}{c['negative']:>9}{shown:>12}")
        if m["stars"]:
            hist = "  ".join(f"{k}★ {v}" for k, v in m["stars"]["histogram"].items())
            context.say(f"  stars: {hist}   mean {m['stars']['mean']:.2f} of {m['stars']['count']}")
        if m["approximate_dates"]:
            context.say(f"  {m['approximate_dates']} dates are approximate (a page's time bucket, dated at its latest)")
        if m["undated"]:
            context.say(f"  {m['undated']} ratings have no date (outside every window)")
        prov = m["provenance"]
        for e in prov["exports"]:
            sha = f", sha256 {e['sha256'][:12]}…" if e.get("sha256") else ""
            context.say(f"  from export {e['export']} ({e['ratings']} ratings{sha}, imported {(e['captured_at'] or '?')[:10]})")
        for c in prov["captures"]:
            where = c.get("url") or c.get("export") or "page"
            context.say(f"  from page {where} ({c['ratings']} ratings, sha256 {c['sha256'][:12]}…, captured {(c['captured_at'] or '?')[:10]})")
        context.say()
    context.say(f"12 months = {window['since'][:10]} .. {window['until'][:10]}")
