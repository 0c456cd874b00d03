"""How well does the number verifier catch planted errors, and how often does it reject correct text?

For several simulated trading days, the daily report is built (deterministic writer), then
mutated: one changed digit, a wrong unit, a flipped sign, two metrics swapped, an invented id.
Each mutant should be rejected. Correct paraphrases (fewer decimals, "$" for USDT, "about 1.2k")
should be accepted. Baseline in the same run: exact string match of each number against the facts'
rendered values (what a simple "is this number in the data" check does), with no id check.

Prior art for scale: RotoWire relation-generation precision (Wiseman et al., 2017) scores generated
sports summaries by extracting (entity, value, type) relations; the mutation rates here are the
analogous figure for a checker rather than a generator.

Run: python bench/verifier_accuracy.py [days] [mutants_per_type]
"""

from __future__ import annotations

import random
import re
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from observability.ai.facts import FactSet, render_value
from observability.ai.number_extractor import Mention, extract
from observability.ai.number_verifier import verify_text
from observability.config.ai_routing_config import AIRoutingConfig
from observability.core.ingest import ingest_events
from observability.core.live_store import open_live_db
from observability.paths import DataLayout
from observability.reporting.daily_report import daily_report
from observability.sim.engine import DEFAULT_START_TS
from observability.sim.generate import generate_events

Mutator = Callable[[str, list[Mention], random.Random], str | None]


def _replace(text: str, m: Mention, new: str) -> str:
    return text[:m.start] + new + text[m.end:]


def changed_digit(text: str, nums: list[Mention], rng: random.Random) -> str | None:
    m = rng.choice(nums)
    digits = [i for i, c in enumerate(m.text) if c.isdigit()]
    i = rng.choice(digits)
    new = m.text[:i] + str((int(m.text[i]) + rng.randint(1, 9)) % 10) + m.text[i + 1:]
    return _replace(text, m, new)


_UNIT_SWAP = {" bps": "%", "%": " bps", " USDT": " bps", " s": " min", " ms": " s"}


def wrong_unit(text: str, nums: list[Mention], rng: random.Random) -> str | None:
    cands = [m for m in nums if any(m.text.endswith(u) for u in _UNIT_SWAP)]
    if not cands:
        return None
    m = rng.choice(cands)
    unit = next(u for u in _UNIT_SWAP if m.text.endswith(u))
    return _replace(text, m, m.text[: -len(unit)] + _UNIT_SWAP[unit])


def flipped_sign(text: str, nums: list[Mention], rng: random.Random) -> str | None:
    cands = [m for m in nums if m.value != 0]
    if not cands:
        return None
    m = rng.choice(cands)
    return _replace(text, m, m.text[1:] if m.text.startswith("-") else "-" + m.text)


def swapped(text: str, nums: list[Mention], rng: random.Random) -> str | None:
    pairs = [(a, b) for a in nums for b in nums if a.start < b.start and a.unit == b.unit and a.text != b.text
             and abs(a.value - b.value) > max(a.step, b.step)]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    return text[:a.start] + b.text + text[a.end:b.start] + a.text + text[b.end:]


def invented_id(text: str, nums: list[Mention], rng: random.Random) -> str | None:
    spans = [m for m in re.finditer(r"`([^`\s]*\d)`", text)]
    if not spans:
        return None
    m = rng.choice(spans)
    ident = m.group(1)
    return text[:m.start(1)] + ident[:-1] + str((int(ident[-1]) + 1) % 10) + text[m.end(1):]


MUTATORS: dict[str, Mutator] = {"changed digit": changed_digit, "wrong unit": wrong_unit,
                                "flipped sign": flipped_sign, "swapped metrics": swapped,
                                "invented id": invented_id}


def paraphrase(text: str, nums: list[Mention], facts: FactSet) -> str:
    """Faithful rewrites: one decimal fewer, '$' for USDT, 'about N.Nk' for large counts."""
    out = text
    for m in sorted(nums, key=lambda n: -n.start):
        if m.text.endswith(" USDT") and not m.text.startswith(("-", "+")):
            new = "$" + m.text[: -len(" USDT")]
        elif m.unit == "" and m.value >= 1000 and m.step == 1:
            new = f"about {m.value / 1000:.1f}k"
        elif m.text.endswith(" bps") and "." in m.text:
            new = f"{round(m.value):d} bps"
        else:
            continue
        out = out[:m.start] + new + out[m.end:]
    return out


def baseline_ok(text: str, facts: FactSet) -> bool:
    rendered = {render_value(f) for f in facts.numeric()}
    bare = {r.split(" ")[0].rstrip("%x") for r in rendered}
    for m in extract(text).numbers:
        token = m.text.removeprefix("about ").removeprefix("+").strip()
        if token not in rendered and token.rstrip("%x").split(" ")[0] not in bare:
            return False
    return True


def _reports(days: int, tmp: Path) -> list[tuple[str, FactSet]]:
    out = []
    for seed in range(days):
        layout = DataLayout(tmp / f"d{seed}").ensure()
        conn = open_live_db(layout.live_db)
        ingest_events(conn, list(generate_events(seed=seed, sim_seconds=900, events_per_second=40,
                                                 settle=True)))
        conn.close()
        day = datetime.fromtimestamp(DEFAULT_START_TS, tz=UTC).date()
        result = daily_report(layout, day, AIRoutingConfig())
        out.append((result.markdown, result.facts))
    return out


def main() -> None:
    days = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    per_type = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        reports = _reports(days, Path(tmp))
    caught: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # ours, baseline, total
    clean = [0, 0, 0]
    para = [0, 0, 0]
    for md, facts in reports:
        nums = extract(md).numbers
        clean[0] += verify_text(md, facts).verified
        clean[1] += baseline_ok(md, facts)
        clean[2] += 1
        p = paraphrase(md, nums, facts)
        para[0] += verify_text(p, facts).verified
        para[1] += baseline_ok(p, facts)
        para[2] += 1
        for name, mutate in MUTATORS.items():
            for _ in range(per_type):
                bad = mutate(md, nums, rng)
                if bad is None or bad == md:
                    continue
                c = caught[name]
                c[0] += not verify_text(bad, facts).verified
                c[1] += not baseline_ok(bad, facts)
                c[2] += 1
    numbers = sum(len(extract(md).numbers) for md, _ in reports)
    print(f"{days} simulated daily reports, {numbers} numbers checked in total")
    print(f"{'case':<22}{'verifier':>10}{'baseline':>10}{'n':>6}")
    print(f"{'accepts correct':<22}{clean[0] / clean[2]:>10.1%}{clean[1] / clean[2]:>10.1%}{clean[2]:>6}")
    print(f"{'accepts paraphrase':<22}{para[0] / para[2]:>10.1%}{para[1] / para[2]:>10.1%}{para[2]:>6}")
    for name, (ours, base, n) in caught.items():
        ratio = f"  x{ours / base:.2f}" if base else ""
        print(f"{'catches ' + name:<22}{ours / n:>10.1%}{base / n:>10.1%}{n:>6}{ratio}")


if __name__ == "__main__":
    main()
