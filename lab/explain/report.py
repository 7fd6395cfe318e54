"""``lab run NAME --report out.html``: one self-contained HTML file a learner can open offline or mail.

Theory of operation. Everything is inline: CSS in a ``<style>`` element, the sequence diagram as the same
text the terminal shows (:func:`lab.narrate.sequence`) in a ``<pre>``, no scripts, fonts or images, so the
file renders identically with no network. :func:`build` is pure (records in, a string out); every value from
a run is escaped. Per step: the hops with the decisive one highlighted, the diagram, the host timeline, the
certificates seen (curl's view and the load balancer's), the proxy lines and the load balancer's log entries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from lab.explain.curldiff import StepComparison, described, labels
from lab.explain.curlplan import Plan
from lab.explain.narrate import outcome, sequence
from lab.explain.verdict import Verdict, explain_result
from lab.model.events import (
    ClientHelloSeen,
    LogEntry,
    Resolved,
    TlsFailed,
    TlsOk,
    TunnelOpened,
    TunnelRefused,
    TunnelRequested,
)
from lab.model.outcome import CurlResult, Mismatch, compare, compare_decider
from lab.model.scenario import Scenario, Step

_CERT_LINE = ("subject:", "issuer:", "subjectAltName", "SSL certificate", "SSL: ", "Server certificate")
_PROXY_LINE = ("Uses proxy env variable", "Establish HTTP proxy tunnel", "CONNECT", "Proxy replied", "SOCKS")

CSS = """
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;
 color:#1d2330;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.25rem;border-top:3px solid #1d2330;padding-top:.6rem}
h3{font-size:1rem;margin:1rem 0 .3rem;color:#445}
.story{color:#334;white-space:pre-wrap} code,pre{font:13px/1.35 ui-monospace,'DejaVu Sans Mono',monospace}
pre{background:#f4f5f8;padding:.6rem .8rem;overflow-x:auto;border-radius:4px}
.cmd{background:#1d2330;color:#e8ecf5}
table{border-collapse:collapse;width:100%} td,th{padding:.2rem .5rem;vertical-align:top;text-align:left}
tr:nth-child(even){background:#f7f8fa}
.hops td:first-child{width:1.2rem} .decisive{background:#fff2b3 !important;font-weight:600}
.fail{color:#b00020} .ok{color:#106b2b} .skip{color:#778}
.lesson{background:#e9f4ff;border-left:4px solid #2b6cb0;padding:.5rem .8rem;margin:.6rem 0}
.change{background:#eefbea;border-left:4px solid #2f855a;padding:.5rem .8rem}
.bad{background:#ffe5e5;border-left:4px solid #b00020;padding:.5rem .8rem}
.muted{color:#667} .seq .hl{background:#fff2b3;font-weight:700} .seq .failed{color:#b00020}
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRecord:
    scenario: Scenario
    step: Step
    result: CurlResult
    plan: Plan
    verdict: Verdict
    problems: list[Mismatch] = field(default_factory=list)
    label: str = ""  # which curl ran it, when a report holds two (lab compare)

    @classmethod
    def of(cls, scenario: Scenario, step: Step, result: CurlResult, label: str = "") -> StepRecord:
        """A step's result with its plan, verdict and expectation check: what every replay shows."""
        plan, verdict = explain_result(scenario, result)
        problems = compare(step.expect, result) + compare_decider(step.expect, verdict.decisive)
        return cls(
            scenario=scenario, step=step, result=result, plan=plan, verdict=verdict, problems=problems, label=label
        )


def _section(title: str, body: str) -> str:
    return f"<h3>{escape(title)}</h3>{body}" if body else ""


def _lines(lines: list[str]) -> str:
    return f"<pre>{escape(chr(10).join(lines))}</pre>" if lines else ""


def _hops_html(verdict: Verdict) -> str:
    """The hop table and the sequence diagram, the decisive hop and arrow highlighted."""
    rows = []
    for hop in verdict.hops:
        cls = "decisive" if hop.decisive else hop.status
        mark = "▶" if hop.decisive else {"ok": "✓", "fail": "✗", "skip": "·"}.get(hop.status, "•")
        tail = " — decisive" if hop.decisive else ""
        rows.append(
            f"<tr class='{cls}'><td>{mark}</td><th>{escape(hop.title)}</th><td>{escape(hop.text)}{tail}</td></tr>"
        )
    seq = []
    for row in sequence(verdict):
        span = "hl" if row.decisive else ("failed" if row.failed else "")
        text = escape(row.line)
        seq.append(f"<span class='{span}'>{text}</span>" if span else text)
    diagram = _section("Sequence", "<pre class='seq'>" + "\n".join(seq) + "</pre>")
    return f"<table class='hops'>{''.join(rows)}</table>\n{diagram}"


def _step_html(record: StepRecord) -> str:
    step, result, verdict = record.step, record.result, record.verdict
    suffix = "-" + record.label.replace(" ", "-") if record.label else ""
    out = [f"<section class='step' id='{escape(record.scenario.name)}-{step.number}{escape(suffix)}'>"]
    with_curl = f" — {record.label}" if record.label else ""
    out.append(f"<h3>Step {step.number}/{len(record.scenario.steps)}{escape(with_curl)}</h3>")
    if step.say:
        out.append(f"<p>{escape(step.say)}</p>")
    out.append(f"<pre class='cmd'>$ {escape(step.run)}</pre>")
    out.append(_hops_html(verdict))
    out.append(f"<p><b>Outcome:</b> {escape(outcome(result))}</p>")
    out.append(f"<div class='lesson'><b>Lesson:</b> {escape(verdict.lesson)}</div>")
    out.append(f"<div class='change'><b>What would change it:</b> {escape(verdict.change)}</div>")
    if step.lesson:
        out.append(f"<p class='muted'>{escape(' '.join(step.lesson.split()))}</p>")
    for problem in record.problems:
        out.append(f"<div class='bad'>Expectation failed: {escape(str(problem))}</div>")
    t0 = result.events[0].t if result.events else 0.0
    timeline = [
        f"<tr><td>+{(e.t - t0) * 1000:.1f} ms</td><td>{escape(e.host)}</td><td>{escape(e.kind)}</td>"
        f"<td>{escape(e.summary)}</td></tr>"
        for e in result.events
        if e.kind != "listening"
    ]
    out.append(
        _section("Timeline (what the lab's hosts saw)", f"<table>{''.join(timeline)}</table>" if timeline else "")
    )
    certs = [line for line in result.verbose.key_lines if any(k in line for k in _CERT_LINE)]
    for e in result.events:
        if isinstance(e, TlsOk | TlsFailed) and e.client_cert is not None:
            judged = (e.verdict if isinstance(e, TlsOk) else e.status_details) or e.kind
            certs.append(f"{e.host} saw client certificate {e.client_cert} ({judged})")
    out.append(_section("Certificates seen", _lines(certs)))
    proxy = [line for line in result.verbose.key_lines if any(k in line for k in _PROXY_LINE)]
    proxy += [
        f"{e.host}: {e.summary}"
        for e in result.events
        if isinstance(e, TunnelRequested | Resolved | TunnelOpened | TunnelRefused | ClientHelloSeen)
    ]
    out.append(_section("Proxy lines", _lines(proxy)))
    entries = [
        json.dumps(e.entry, indent=2, sort_keys=True, default=str) if e.entry else f"{e.host}: {e.summary}"
        for e in result.events
        if isinstance(e, LogEntry)
    ]
    out.append(_section("Load balancer log entries", _lines(entries)))
    if result.verbose.key_lines:
        out.append(f"<details><summary>curl said</summary>{_lines(list(result.verbose.key_lines))}</details>")
    out.append("</section>")
    return "\n".join(out)


def _compare_html(comparisons: list[StepComparison]) -> str:
    """``lab compare --report``: per step, the fields where the two curls differ (both values)."""
    if not comparisons:
        return ""
    first = comparisons[0]
    name_a, name_b = labels(first.a.curl, first.b.curl)
    rows = [f"<tr><th>step</th><th>differs</th><th>{escape(name_a)}</th><th>{escape(name_b)}</th></tr>"]
    for c in comparisons:
        where = f"{escape(c.scenario.name)} {c.step.number}"
        cmd = f"<br><code>{escape(c.step.run)}</code>"
        diffs = c.differences or (("no difference", "", ""),)
        for i, (label, a, b) in enumerate(diffs):
            head = f"<td rowspan='{len(diffs)}'>{where}{cmd}</td>" if i == 0 else ""
            rows.append(f"<tr>{head}<td>{escape(label)}</td><td>{escape(a)}</td><td>{escape(b)}</td></tr>")
    one, other = described(first.a.curl, first.b.curl)
    return (
        f"<h2>Two curls compared</h2><p class='muted'>{escape(one)}<br>{escape(other)}</p>"
        f"<table class='compare'>{''.join(rows)}</table>"
    )


def build(
    records: list[StepRecord], title: str = "Routing lab report", comparisons: list[StepComparison] | None = None
) -> str:
    """The whole report as one HTML document (no external resources)."""
    body = [f"<h1>{escape(title)}</h1>"]
    total = len(records)
    good = sum(not r.problems for r in records)
    body.append(f"<p class='muted'>{good}/{total} steps behaved as expected. Generated offline by the routing lab.</p>")
    curls = list(dict.fromkeys(str(r.result.curl) for r in records if r.result.curl))
    if curls:
        body.append(f"<p class='muted'>curl: {escape('; '.join(curls))}</p>")
    body.append(_compare_html(comparisons or []))
    seen: set[str] = set()
    for record in records:
        scenario = record.scenario
        if scenario.name not in seen:
            seen.add(scenario.name)
            body.append(f"<h2>{escape(scenario.name)}: {escape(scenario.title)}</h2>")
            if scenario.story:
                body.append(f"<p class='story'>{escape(scenario.story)}</p>")
        body.append(_step_html(record))
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write(path: str | Path, records: list[StepRecord], comparisons: list[StepComparison] | None = None) -> Path:
    target = Path(path)
    names = list(dict.fromkeys(r.scenario.name for r in records))
    title = f"Routing lab: {', '.join(names)}" if len(names) <= 3 else f"Routing lab: {len(names)} scenarios"
    target.write_text(build(records, title, comparisons), encoding="utf-8")
    return target
