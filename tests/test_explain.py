"""The verdict, the narrated replay, workshop mode (quiz, lab up) and the HTML report, with real curl."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import tomllib
import zlib
from html.parser import HTMLParser
from itertools import takewhile
from pathlib import Path

import pytest

from lab.apps import catalog
from lab.apps.workshop import Guess, QuizInputError, parse_guess, score
from lab.explain import report as reports
from lab.explain.narrate import sequence
from lab.explain.verdict import explain_result
from lab.model import deciders, scenario
from lab.model.outcome import CurlResult, compare, compare_decider
from lab.model.scenario import Step
from lab.paths import ROOT, SCENARIO_DIR
from tests.conftest import CHROMIUM, LabFactory, curls
from tests.conftest import run_lab as _lab
from tests.explain_checks import contradictions


@pytest.mark.parametrize("path", scenario.catalog(), ids=lambda p: p.stem)
async def test_every_step_of_every_scenario_holds_with_real_curl(lab: LabFactory, path: Path) -> None:
    """The whole catalog (every scenarios/*.toml): each step declares what is knowable - exit, reached and
    decided_by, and the tunnel whenever a proxy is asked - its lesson names that decider and no other, and with
    real curl every declared field holds (exit, reached, tunnel, error, decided_by) and no witness contradicts
    the explanation. Every step runs with each curl (the default one and curl 8 from `make curl8`, when
    fetched) in one lab: every expectation and every explanation must hold with both."""
    loaded = scenario.load(path)
    failed: list[str] = []
    async with lab(str(path)) as runner:
        for step in loaded.steps:
            expect = step.expect
            declared = {"exit": expect.exit, "reached": expect.reached, "decided_by": expect.decided_by}
            missing = [k for k, v in declared.items() if v is None]
            assert missing == [], f"{loaded.name} step {step.number} leaves out {missing}"
            assert set(deciders.claims(step.lesson)) == {expect.decided_by}, f"step {step.number}: {step.lesson}"
            for curl in curls():
                result = await runner.run(step.argv, curl=curl)
                assert result.curl == curl
                where = f"{loaded.name} step {step.number} with {curl.version}"
                if result.tunnel is not None and expect.tunnel is None:
                    failed.append(f"{where}: a proxy was asked for {result.tunnel}, and the step declares no tunnel")
                _, verdict = explain_result(loaded, result)
                problems = compare(expect, result) + compare_decider(expect, verdict.decisive)
                failed += [f"{where}: {p}" for p in problems]
                failed += [f"{where}: {c}" for c in contradictions(loaded, result, verdict)]
                failed += [f"{where}: emulator drift: {d}" for d in verdict.drift]
    assert failed == []


def _result(reached: str | None, code: int) -> CurlResult:
    from lab.model.events import ResponseSent
    from lab.protocols import curlv

    events = (ResponseSent(host=reached, status=200),) if reached else ()
    return CurlResult(
        argv=("curl",), env={}, exit_code=code, stdout="", stderr="", verbose=curlv.parse(""), events=events, duration=0
    )


def test_quiz_reads_and_scores_answers() -> None:
    choices = ("glb", "old", "none")
    assert parse_guess("OLD\n", " 0\n", choices) == Guess(reached="old", exit_code=0)
    assert parse_guess("\n", "\n", choices) == Guess(reached=None, exit_code=None)
    with pytest.raises(QuizInputError, match="expected one of: glb, old, none"):
        parse_guess("proxy", "0", choices)
    with pytest.raises(QuizInputError, match="expected a number"):
        parse_guess("old", "zero", choices)
    assert score(Guess(reached="old", exit_code=0), _result("old", 0))[0] == 2
    points, line = score(Guess(reached="glb", exit_code=35), _result(None, 35))
    assert points == 1
    assert "it was none" in line


QuizRun = tuple[subprocess.CompletedProcess[str], Path, int]


@pytest.fixture(scope="module")
def quiz_run(tmp_path_factory: pytest.TempPathFactory) -> QuizRun:
    """`lab run proxy-resolve --quiz --report` at 118 columns (the README's width), fed from stdin: right answers
    except one wrong host."""
    loaded = scenario.load("proxy-resolve")
    answers = []
    expected = 0
    for i, step in enumerate(loaded.steps):
        host = step.expect.reached or "none"
        if i == 1:
            host = next(h for h in loaded.hosts if h != host)  # the learner believes --resolve still holds
        else:
            expected += 1
        answers += [host, str(step.expect.exit)]
        expected += 1
    report = tmp_path_factory.mktemp("report") / "proxy-resolve.html"
    done = _lab(
        "run",
        "proxy-resolve",
        "--quiz",
        "--report",
        str(report),
        stdin="\n".join(answers) + "\n",
        env={"COLUMNS": "118"},
    )
    return done, report, expected


def _steps(out: str) -> dict[int, list[str]]:
    """The printed block of each step, from its ``── Step N/M`` line up to the line before the next block."""
    blocks: dict[int, list[str]] = {}
    for line in out.splitlines():
        if found := re.match(r"── Step (\d+)/\d+ ─", line):
            blocks[int(found.group(1))] = []
        elif blocks and not line.startswith(("── Quiz", "your prediction:")):
            blocks[max(blocks)].append(line)
    return blocks


@pytest.mark.netns
def test_quiz_scores_predictions_from_stdin(quiz_run: QuizRun) -> None:
    done, _, expected = quiz_run
    assert done.returncode == 0, done.stderr
    total = 2 * len(scenario.load("proxy-resolve").steps)
    lines = done.stdout.splitlines()
    assert lines[-2:] == ["3/3 steps behaved as expected", f"quiz score: {expected}/{total}"]
    assert [line for line in lines if line.startswith("your prediction:")] == [
        "your prediction: host glb ✓; exit 0 ✓",
        "your prediction: host glb ✗ (it was old); exit 0 ✓",
        "your prediction: host glb ✓; exit 0 ✓",
    ]
    asked = "Who will answer? (glb, old, reset, proxy, socks, none; empty skips) > "
    assert [line for line in lines if line.startswith("Who will answer?")] == [
        f"{asked}glb",
        f"{asked}glb",
        f"{asked}glb",
    ]
    assert "\x1b[" not in done.stdout  # not a terminal: plain text
    for line in lines:
        assert line == line.rstrip(), f"trailing blanks: {line!r}"
        assert len(line) <= 118, f"wider than $COLUMNS: {line!r}"


def _readme_example() -> list[str]:
    """The replayed step the README shows (its ```text block)."""
    found = re.search(
        r"^```text\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE
    )
    assert found is not None, "README.md lost its example of a replayed step"
    return found.group(1).splitlines()


@pytest.mark.netns
def test_the_readme_shows_step_2_of_proxy_resolve_exactly_as_lab_run_prints_it(quiz_run: QuizRun) -> None:
    """README.md: "step 2 of 3, real output at 118 columns, the scenario's own why left out"."""
    block = _steps(quiz_run[0].stdout)[2]
    shown = block[next(i for i, line in enumerate(block) if line.startswith("$ curl")) :]
    why, end = shown.index(next(line for line in shown if line.startswith("why: "))), shown.index("expectations hold ✓")
    assert shown[:why] + shown[end : end + 1] == _readme_example()


# The lines that carry the ◀ decisive mark in each step of proxy-resolve at 118 columns (the whole hop block
# first): --resolve marks client resolution and the TCP arrow to the load balancer; proxy DNS marks its own hop,
# the CONNECT and the proxy's lookup; --connect-to marks client resolution (where it names the swap) and what the
# proxy was asked.
PROXY_RESOLVE_MARKS = {
    1: [
        " ▶  client resolution   mydomain → 88.88.88.88 from --resolve mydomain:443:88.88.88.88   ◀ decisive",
        "   │────── TCP 88.88.88.88:443 ──────▶│    ◀ decisive",
    ],
    2: [
        " ▶  proxy DNS           asked CONNECT mydomain:443; the proxy's own DNS says mydomain → 10.1.1.1 (old)"
        "   ◀ decisive",
        "   │── CONNECT mydomain:443 ──▶│                           │    ◀ decisive",
        "   │                           ◆ DNS mydomain → 10.1.1.1   │    ◀ decisive",
    ],
    3: [
        " ▶  client resolution   --connect-to mydomain:443:88.88.88.88:443 replaces mydomain:443 with "
        "88.88.88.88:443; curl",
        "                        looks up only the proxy's host 10.9.9.9 (IP literal); the target 88.88.88.88 is an "
        "address.",
        "                        ◀ decisive",
        "   │────── CONNECT 88.88.88.88:443 ──────▶│                                      │    ◀ decisive",
    ],
}


@pytest.mark.netns
def test_each_step_marks_exactly_its_decisive_hop_and_arrows(quiz_run: QuizRun) -> None:
    for number, block in _steps(quiz_run[0].stdout).items():
        head = next(i for i, line in enumerate(block) if line.startswith(" ▶  "))
        hop = [block[head], *takewhile(lambda line: line.startswith("    "), block[head + 1 :])]
        assert [line for line in block if line.startswith(" ▶  ")] == hop[:1], f"step {number}: one decisive hop"
        marked = [line for line in block if line.endswith("◀ decisive")]
        assert hop[:-1] + marked == PROXY_RESOLVE_MARKS[number], f"step {number}"


@pytest.mark.netns
def test_run_json_has_one_object_per_step_with_the_explanation() -> None:
    done = _lab("run", "public-dns", "--json")
    assert (done.returncode, done.stderr) == (0, "")
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert set(record) == {
        "scenario", "step", "command", "curl", "exit_code", "error", "reached", "tunnel", "proxy_env", "events", "ok",
        "problems", "explain",
    }  # fmt: skip
    assert (record["scenario"], record["step"], record["command"]) == ("public-dns", 1, "curl -v https://mydomain")
    assert (record["exit_code"], record["reached"], record["tunnel"], record["ok"]) == (35, None, None, True)
    assert record["problems"] == []
    explain = record["explain"]
    assert (explain["decisive"], explain["decisive_hop"], explain["drift"]) == ("client DNS", "resolve", [])
    assert (explain["cause"], explain["ending"]) == ("hosts-file", "hello-hangup")  # the host at the address hung up
    assert [h["key"] for h in explain["hops"] if h["decisive"]] == ["resolve"]
    assert explain["lesson"] == (
        "Client DNS decided: the client's hosts file says mydomain is 198.0.8.245, so curl went to reset "
        "(198.0.8.245:443); the host at 198.0.8.245:443 (reset) closed the connection right after the ClientHello, "
        "without a ServerHello; curl exited 35."
    )
    assert explain["change"] == (
        "Something at 198.0.8.245:443 takes TCP but will not speak TLS with curl: check that it is the server you "
        "meant (openssl s_client -connect 198.0.8.245:443 -servername mydomain). To go elsewhere without touching "
        "DNS: --resolve mydomain:443:88.88.88.88 (SNI and Host stay mydomain)."
    )


@pytest.mark.netns
def test_exec_json_carries_the_same_explanation_as_run_json() -> None:
    done = _lab(
        "exec", "seed", "--json", "--", "curl", "-sS", "--resolve", "mydomain:443:88.88.88.88", "https://mydomain"
    )
    record = json.loads(done.stdout.splitlines()[-1])
    assert done.returncode == record["exit_code"] == 56  # lab exec exits with curl's code
    assert set(record) == {"curl", "exit_code", "error", "reached", "tunnel", "proxy_env", "events", "explain"}
    explain = record["explain"]
    assert set(explain) == {"decisive", "decisive_hop", "cause", "ending", "lesson", "change", "hops", "drift"}
    assert (explain["decisive"], explain["decisive_hop"]) == ("client-cert check", "client-cert")
    assert (explain["cause"], explain["ending"]) == ("missing", "")
    assert [h["key"] for h in explain["hops"] if h["decisive"]] == ["client-cert"]
    assert [set(h) for h in explain["hops"]] == [{"key", "title", "text", "status", "decisive"}] * len(explain["hops"])
    assert explain["change"] == (
        "Send a client certificate the load balancer trusts: --cert certs/client.crt --key certs/client.key."
    )


@pytest.mark.netns
def test_exec_explain_adds_the_explanation_after_curls_own_output() -> None:
    done = _lab("exec", "seed", "--explain", "--", "curl", "-sS", "-H", "Host: mydomain", "https://88.88.88.88")
    assert (done.returncode, done.stdout) == (60, "")  # curl's exit code; stdout stays curl's (it printed nothing)
    curl_said, _, explained = done.stderr.partition("── lab: what happened ")
    assert curl_said.startswith("curl: (60) SSL: no alternative certificate subject name matches")
    decisive = [line for line in explained.splitlines() if "◀ decisive" in line or line.startswith(" ▶ ")]
    assert decisive[0].startswith(" ▶  server certificate  curl refused it"), explained
    assert "lesson: curl's server-certificate check decided" in explained
    # -H "Host: ..." is said to change only the header: SNI and the name checked stay the URL's
    assert '-H "Host: mydomain" changes only the HTTP Host header' in " ".join(explained.split())


@pytest.mark.netns
def test_a_step_whose_verdict_disagrees_fails_like_a_wrong_exit_code(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(
        'title = "t"\nstory = "s"\ntopology = "seed"\n[[steps]]\nrun = "curl -sS https://mydomain"\n'
        '[steps.expect]\nexit = 35\ndecided_by = "--resolve"\n'
    )
    done = _lab("run", str(wrong))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert "EXPECTATION FAILED: expected decisive hop --resolve, got client DNS" in lines
    assert lines[-1] == "0/1 steps behaved as expected"
    as_json = _lab("run", str(wrong), "--json")
    assert as_json.returncode == 1
    record = json.loads(as_json.stdout)
    assert record["ok"] is False
    assert record["problems"] == ["expected decisive hop --resolve, got client DNS"]


def _lab_copy(tmp_path: Path, scenarios: list[str]) -> Path:
    """A temporary copy of the lab whose catalog holds only ``scenarios`` (and the topologies); certs shared."""
    copy = tmp_path / "lab-copy"
    shutil.copytree(ROOT / "lab", copy / "lab", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(SCENARIO_DIR / "topologies", copy / "scenarios" / "topologies")
    for name in scenarios:
        shutil.copy(SCENARIO_DIR / f"{name}.toml", copy / "scenarios")
    (copy / "certs").symlink_to(ROOT / "certs")
    return copy


def _plant(path: Path, step: int, old: str, new: str) -> None:
    """Change one expectation line of step ``step`` (1-based) in a scenario file."""
    parts = path.read_text(encoding="utf-8").split("[[steps]]")
    assert parts[step].count(old) == 1, (path.name, step, old)
    parts[step] = parts[step].replace(old, new)
    path.write_text("[[steps]]".join(parts), encoding="utf-8")


@pytest.mark.netns
def test_run_all_exits_1_when_a_catalog_scenario_expects_wrongly(tmp_path: Path) -> None:
    """README: `lab run --all` replays them all, exit 1 if an expectation fails - every field counts."""
    copy = _lab_copy(tmp_path, ["proxy-resolve", "public-dns"])
    held = _lab("run", "--all", cwd=copy)
    assert held.returncode == 0, held.stdout[-3000:] + held.stderr
    assert held.stdout.splitlines()[-1] == "4/4 steps behaved as expected"
    _plant(copy / "scenarios" / "proxy-resolve.toml", 2, 'reached = "old"', 'reached = "glb"')
    _plant(copy / "scenarios" / "proxy-resolve.toml", 3, 'tunnel = "88.88.88.88:443"', 'tunnel = "mydomain:443"')
    _plant(copy / "scenarios" / "public-dns.toml", 1, "exit = 35", "exit = 60")
    failed = _lab("run", "--all", cwd=copy)
    assert failed.returncode == 1, failed.stderr
    lines = failed.stdout.splitlines()
    assert [line for line in lines if line.startswith("━━ ")] == [
        "━━ proxy-resolve: --resolve is ignored behind a proxy: the proxy's own DNS picks the stale old service",
        "━━ public-dns: Public DNS sends mydomain to a dead address",
    ]  # the copy's catalog, all of it, in order
    assert [line for line in lines if line.startswith("EXPECTATION FAILED")] == [
        "EXPECTATION FAILED: expected reached host glb, got old",
        "EXPECTATION FAILED: expected tunnel mydomain:443, got 88.88.88.88:443",
        "EXPECTATION FAILED: expected exit code 60, got 35",
    ]
    assert lines[-1] == "1/4 steps behaved as expected"


@pytest.mark.netns
def test_run_all_exits_1_for_a_wrong_decider_or_error(tmp_path: Path) -> None:
    copy = _lab_copy(tmp_path, ["public-dns", "resolve-pins-glb"])
    for old, new in [
        ('decided_by = "client DNS"', 'decided_by = "--resolve"'),
        ("Client DNS decided", "--resolve decided"),
    ]:
        _plant(copy / "scenarios" / "public-dns.toml", 1, old, new)  # the lesson must name the decider
    _plant(copy / "scenarios" / "resolve-pins-glb.toml", 1, 'error = "', 'error = "not what curl said: ')
    done = _lab("run", "--all", "--json", cwd=copy)
    assert done.returncode == 1, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["scenario"], r["step"], r["ok"]) for r in records] == [
        ("public-dns", 1, False), ("resolve-pins-glb", 1, False), ("resolve-pins-glb", 2, True),
        ("resolve-pins-glb", 3, True),
    ]  # fmt: skip
    assert records[0]["problems"] == ["expected decisive hop --resolve, got client DNS"]
    (problem,) = records[1]["problems"]
    assert problem.startswith("expected error containing 'not what curl said: ")


def test_lab_list_prints_every_scenario_with_its_title() -> None:
    """`lab list`: one line per scenarios/*.toml, in file-name order, its title from the file (as in the index)."""
    done = _lab("list")
    assert (done.returncode, done.stderr) == (0, "")
    names = [p.stem for p in sorted(SCENARIO_DIR.glob("*.toml"))]
    titles = {n: tomllib.loads((SCENARIO_DIR / f"{n}.toml").read_text(encoding="utf-8"))["title"] for n in names}
    assert done.stdout.splitlines() == [f"{name:<26} {titles[name]}" for name in names]
    index = catalog.current(catalog.README.read_text(encoding="utf-8"))
    assert [row.split(" | ")[:2] for row in index.splitlines()[2:]] == [[f"| `{n}`", titles[n]] for n in names]


@pytest.mark.netns
def test_piped_narrow_output_is_plain_and_fits() -> None:
    done = _lab("run", "client-cert-problems", env={"COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    assert "\x1b[" not in done.stdout
    for line in done.stdout.splitlines():
        assert line == line.rstrip(), repr(line)
        assert len(line) <= 80 or max(len(w) for w in line.split()) > 26, repr(line)
    assert "--key certs/rogue-client.key" in done.stdout  # an option never parted from its argument
    titles = {"client-cert check": "client certificate", "--resolve": "client resolution"}
    steps = scenario.load("client-cert-problems").steps
    for number, block in _steps(done.stdout).items():
        head = next(i for i, line in enumerate(block) if line.startswith(" ▶  "))
        hop = [block[head], *takewhile(lambda line: line.startswith("    "), block[head + 1 :])]
        decided_by = steps[number - 1].expect.decided_by
        assert decided_by is not None
        assert hop[0].startswith(f" ▶  {titles[decided_by]}  "), f"step {number}: {hop[0]!r}"
        marked = [line for line in block if line.endswith("◀ decisive")]
        assert marked[0] == hop[-1], f"step {number}: the decisive hop's last line carries the mark"
        assert len(marked) == 2, f"step {number}: the hop and one diagram row, {marked}"  # one arrow decides here


LAB_UP_PROXY_DNS = PROXY_RESOLVE_MARKS[2]  # the same command in the same world, at 120 columns
LAB_UP_CLIENT_DNS = [
    " ▶  client resolution   mydomain → 198.0.8.245 from the hosts file (198.0.8.245 mydomain)   ◀ decisive",
    "   │────── TCP 198.0.8.245:443 ──────▶│     ◀ decisive",
]


@pytest.mark.netns
def test_lab_up_explains_each_curl_typed() -> None:
    commands = (
        "curl -sS -o /dev/null --resolve mydomain:443:88.88.88.88 -x http://10.9.9.9:3128 https://mydomain\n"
        'echo "rc=$?"\n'
        "curl -sS https://mydomain\n"
        "exit 0\n"
    )
    done = _lab("up", "seed", stdin=commands)
    assert done.returncode == 0, done.stderr
    first, rest = done.stdout.split("rc=0\n")  # the first curl was explained before the next command ran
    for explained, marks in ((first, LAB_UP_PROXY_DNS), (rest, LAB_UP_CLIENT_DNS)):
        lines = explained.splitlines()
        assert lines[0].startswith("── lab: what happened ──")
        assert [line for line in lines if line.endswith("◀ decisive")] == marks
    assert [line for line in first.splitlines() if line.startswith("lesson: ")] == [
        "lesson: Proxy DNS decided: curl asked the proxy (the -x option) for mydomain:443, and the proxy's own DNS "
        "said mydomain"
    ]
    assert [line for line in rest.splitlines() if line.startswith("lesson: ")] == [
        "lesson: Client DNS decided: the client's hosts file says mydomain is 198.0.8.245, so curl went to reset"
    ]


class _Report(HTMLParser):
    """What an offline reader gets from a report: the elements that would fetch something, the text per step,
    the hop rows marked decisive and the highlighted diagram rows."""

    def __init__(self) -> None:
        super().__init__()
        self.fetches: list[str] = []  # src=, href=, <link>, <script>, url(), @import
        self.steps: list[str] = []
        self.decisive: list[list[str]] = []  # per step: the cells of its decisive hop row
        self.highlighted: list[list[str]] = []  # per step: the diagram rows marked decisive
        self._where: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.fetches += [f"{tag} {k}={v}" for k, v in attrs if k in ("src", "href", "srcset", "data", "poster")]
        if tag in ("script", "link", "iframe", "object", "embed", "img"):
            self.fetches.append(tag)
        if tag == "section" and found.get("class") == "step":
            self.steps.append(found.get("id") or "")
            self.decisive.append([])
            self.highlighted.append([])
        if tag == "tr" and found.get("class") == "decisive":
            self._where.append("hop")
        if tag == "span" and found.get("class") == "hl":
            self._where.append("hl")
        self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._where and self._where[-1] == "hop":
            self.decisive[-1].append("".join(self._text))
        if tag == "tr" and self._where and self._where[-1] == "hop":
            self._where.pop()
        if tag == "span" and self._where and self._where[-1] == "hl":
            self.highlighted[-1].append("".join(self._text))
            self._where.pop()
        self._text = []

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        if re.search(r"url\(|@import", data):
            self.fetches.append(data[:80])


def test_the_html_report_is_self_contained_and_marks_each_decision() -> None:
    """The report of recorded real runs (no namespace, no browser): nothing to fetch, every value escaped, and per
    step exactly the decisive hop's row and the decisive diagram rows highlighted."""
    from tests.explain_matrix import ROWS, world
    from tests.record_runs import recorded

    runs = recorded()
    records = []
    for number, row in enumerate(ROWS, 1):
        lab = world(row.world)
        plan, verdict = explain_result(lab, runs[row.id])
        step = Step(number=number, run=row.command, argv=runs[row.id].argv, say=f"<b>{row.id}</b> & <script>")
        records.append(reports.StepRecord(scenario=lab, step=step, result=runs[row.id], plan=plan, verdict=verdict))
    html = reports.build(records)
    parsed = _Report()
    parsed.feed(html)
    assert parsed.fetches == []
    assert "<script>" not in html
    assert html.count("&lt;script&gt;") == len(ROWS)
    assert parsed.steps == [f"{r.scenario.name}-{n}" for n, r in enumerate(records, 1)]
    for row, record, cells, highlighted in zip(ROWS, records, parsed.decisive, parsed.highlighted, strict=True):
        hop = next(h for h in record.verdict.hops if h.key == row.hop)
        assert cells == ["▶", hop.title, f"{hop.text} — decisive"], row.id
        assert [line.rstrip() for line in highlighted] == [
            r.line.rstrip() for r in sequence(record.verdict) if r.decisive
        ], row.id


@pytest.mark.netns
def test_the_report_of_a_real_run_needs_nothing_from_the_network(quiz_run: QuizRun) -> None:
    """`lab run --report` from a real replay: self-contained, and it carries the load balancer's log entries."""
    html = quiz_run[1].read_text(encoding="utf-8")
    parsed = _Report()
    parsed.feed(html)
    assert parsed.fetches == []
    assert parsed.steps == ["proxy-resolve-1", "proxy-resolve-2", "proxy-resolve-3"]
    assert [cells[1] for cells in parsed.decisive] == ["client resolution", "proxy DNS", "client resolution"]
    assert "<h3>Load balancer log entries</h3>" in html
    assert "3/3 steps behaved as expected" in html


def _png_is_not_blank(data: bytes) -> bool:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    idat = b""
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(idat)
    return len(set(pixels)) > 16  # text, colours and rules, not a single flat colour


@pytest.mark.netns
@pytest.mark.browser
def test_report_renders_offline_in_headless_chromium(quiz_run: QuizRun, tmp_path: Path) -> None:
    report = quiz_run[1]
    assert CHROMIUM is not None
    flags = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
    ]  # fmt: skip
    # The test process is inside the lab namespace: no network but loopback, so this proves "offline".
    dom = subprocess.run(
        [*flags, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=60, check=False
    )
    assert "Proxy DNS decided" in dom.stdout, dom.stderr[-2000:]
    assert "CONNECT mydomain:443" in dom.stdout
    assert "Load balancer log entries" in dom.stdout
    shot = tmp_path / "report.png"
    subprocess.run(
        [*flags, "--window-size=1200,1600", f"--screenshot={shot}", report.as_uri()],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert shot.exists()
    assert _png_is_not_blank(shot.read_bytes())
