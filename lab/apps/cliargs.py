"""The ``lab`` command line's words: each subcommand's arguments, help and examples (what ``lab COMMAND --help``
prints). What each command does is :mod:`lab.apps.cli`'s."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

EPILOG = """\
examples:
  lab list                                   what scenarios there are
  lab run proxy-resolve                      replay one with real curl, step by step
  lab run --all                              replay every scenario (exit 1 if an expectation fails)
  lab run proxy-resolve --quiz               predict who answers each step, then see why
  lab run --all --report out.html            one self-contained HTML report (opens offline)
  lab exec seed --json -- curl -sS https://mydomain
                                             one command in the seed's world; JSON on the last line
  lab exec seed --explain -- env https_proxy=http://10.9.9.9:3128 curl -v https://mydomain
                                             curl's own output, then which hop decided and why
  lab up seed                                a shell inside the world; type curl commands yourself
  lab run seed-story --curl .curl/8/curl     replay with another curl (or LAB_CURL=PATH; `make curl8` fetches 8.x)
  lab compare seed-story --curl curl --curl .curl/8/curl
                                             replay with two curls; per step, what differs
  lab serve --learners 30 --scenario proxy-resolve
                                             a browser terminal per learner, each in a lab of its own:
                                             prints one URL per learner (127.0.0.1 unless --bind)
  lab check scenarios/my-customer.toml       validate a scenario you wrote
  lab new my-customer                        start scenarios/my-customer.toml from a commented template
  lab import chat.txt -o scenarios/my-customer.toml
                                             draft a scenario from a customer's pasted curl -v output,
                                             replay it once and report which steps reproduce it
  lab logs mtls-logging --filter 'jsonPayload.statusDetails=~"client_cert"'
                                             the load balancer's log after `lab run mtls-logging`

exit codes: 0 ok, 1 an expectation failed, 2 bad input, 3 no network namespaces here, 130 interrupted
"""

CURL_HELP = "the curl binary to run (default: $LAB_CURL, else curl on PATH)"


def _command(sub: Any, name: str, summary: str, description: str = "", examples: str = "") -> Any:
    """A subcommand whose --help says what it is for and shows how it is used."""
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples.splitlines()) if examples else None
    return sub.add_parser(
        name,
        help=summary,
        description=textwrap.fill(description or summary, 100),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_list(sub: Any) -> None:
    _command(sub, "list", "list scenarios with their titles", "The scenarios in scenarios/, each with its title.")


def add_check(sub: Any) -> None:
    check = _command(
        sub,
        "check",
        "validate scenario files (file:line errors)",
        "Load each file as `lab run` would, without starting any host: every mistake is one line naming the file "
        "and line. Exit 0 when all are valid, 2 otherwise.",
        "lab check scenarios/my-customer.toml\nlab check scenarios/*.toml",
    )
    check.add_argument("files", nargs="+", metavar="FILE")


def add_run(sub: Any) -> None:
    run = _command(
        sub,
        "run",
        "replay a scenario's steps with real curl",
        "Start the scenario's hosts on their real addresses in a network namespace of the lab's own, run each "
        "step's curl command there, and explain where the request went and which hop decided it. A step fails "
        "(exit 1) when curl or the explanation disagrees with the step's [steps.expect].",
        "lab run proxy-resolve\nlab run proxy-resolve --quiz\nlab run --all --report out.html\n"
        "lab run seed-story --curl .curl/8/curl",
    )
    run.add_argument("name", nargs="?", metavar="NAME|FILE", help="scenario name (see lab list) or .toml path")
    run.add_argument("--all", action="store_true", help="replay every scenario in scenarios/")
    run.add_argument("--json", action="store_true", help="one JSON object per step instead of text")
    run.add_argument("--quiz", action="store_true", help="predict who answers and curl's exit code before each step")
    run.add_argument("--report", metavar="FILE.html", help="also write a self-contained HTML report")
    run.add_argument("--curl", action="append", metavar="PATH", help=f"{CURL_HELP}; twice: compare the two")


def add_compare(sub: Any) -> None:
    compare = _command(
        sub,
        "compare",
        "replay a scenario with two curls and show what differs per step",
        "Replay the same steps with two curl builds (e.g. the customer's 7.88 and 8.x) and show, per step, "
        "where exit code, error text or the host reached differ.",
        "lab compare seed-story --curl .curl/8/curl\nlab compare --all --curl curl --curl .curl/8/curl --json",
    )
    compare.add_argument("name", nargs="?", metavar="NAME|FILE", help="scenario name (see lab list) or .toml path")
    compare.add_argument("--all", action="store_true", help="compare on every scenario in scenarios/")
    compare.add_argument(
        "--curl", action="append", metavar="PATH", help="the curls to compare (once: the default curl and PATH)"
    )
    compare.add_argument("--json", action="store_true", help="one JSON object per step instead of text")
    compare.add_argument("--report", metavar="FILE.html", help="also write a self-contained HTML report")


def add_exec(sub: Any) -> None:
    exec_ = _command(
        sub,
        "exec",
        "run one curl command in a scenario's world",
        "Start the scenario's hosts, run one command inside their network and stop them again. curl's stdout, "
        "stderr and exit code are passed on unchanged; --explain adds the lab's explanation on stderr, --json "
        "the explanation and the hosts' events as one JSON object on stdout's last line.",
        "lab exec seed --explain -- curl -v https://mydomain\n"
        "lab exec seed --json -- curl -sS --resolve mydomain:443:88.88.88.88 https://mydomain\n"
        "lab exec seed -- env https_proxy=http://10.9.9.9:3128 curl -v https://mydomain",
    )
    exec_.add_argument("name", metavar="NAME|FILE", help="scenario name (see lab list) or .toml path")
    exec_.add_argument("--json", action="store_true", help="print one JSON object on the last stdout line")
    exec_.add_argument(
        "--explain", action="store_true", help="after curl's output, say which hop decided and why (on stderr)"
    )
    exec_.add_argument("--curl", metavar="PATH", help=CURL_HELP)
    exec_.add_argument("cmd", nargs="*", metavar="-- COMMAND", help="the command, after --")


def add_logs(sub: Any) -> None:
    logs = _command(
        sub,
        "logs",
        "the load balancer's log entries from the last `lab run NAME`",
        "The entries the fake load balancer wrote as Google Cloud Logging would show them, filtered with the "
        "same query language (field=value, =~ regex, AND/OR/NOT) as the console and `gcloud logging read`.",
        "lab logs mtls-logging\nlab logs mtls-logging --filter 'jsonPayload.statusDetails=~\"client_cert\"'\n"
        "lab logs mtls-logging --format json --limit 2",
    )
    logs.add_argument("name", metavar="NAME")
    logs.add_argument(
        "--filter", default="", metavar="QUERY", help='Logging query, e.g. jsonPayload.statusDetails=~"client_cert"'
    )
    logs.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json: the entries as `gcloud logging read --format=json` prints them (one array, keys sorted)",
    )
    logs.add_argument("--json", action="store_true", help="the same as --format json")
    logs.add_argument("--order", choices=("desc", "asc"), default="desc", help="newest first (gcloud's default)")
    logs.add_argument("--limit", type=int, metavar="N", help="at most N entries")


def add_up(sub: Any) -> None:
    up = _command(
        sub,
        "up",
        "start a scenario's world and open a shell inside it",
        "A bash shell inside the scenario's network: type curl commands as the customer would; the hosts' "
        "events print as they happen and the lab explains each curl after it. exit (or Ctrl-D) ends the lab "
        "and removes everything it made.",
        "lab up seed\nlab up proxy-resolve --curl .curl/8/curl",
    )
    up.add_argument("name", metavar="NAME|FILE")
    up.add_argument("--curl", metavar="PATH", help=CURL_HELP + " (the shell's curl)")


def add_serve(sub: Any) -> None:
    serve = _command(
        sub,
        "serve",
        "browser terminals for learners, each in a lab of its own",
        "Print one URL per learner; each opens a browser terminal running `lab up` in a lab of its own (started "
        "on the first visit, kept while the tab is open, ended after --idle-timeout). The URL is the learner's "
        "only key. See docs/workshop-at-scale.md.",
        "lab serve --learners 30 --scenario proxy-resolve\n"
        "lab serve --learners 30 --scenario seed --bind 0.0.0.0 --max-labs 15",
    )
    serve.add_argument(
        "--scenario", metavar="NAME|FILE", help="the world every learner gets (default: $LAB_SCENARIO, as in a pod)"
    )
    serve.add_argument("--learners", type=int, default=1, metavar="N", help="how many URLs (one lab each)")
    serve.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS", help="listen here (0.0.0.0: everywhere)")
    serve.add_argument("--port", type=int, default=7681, help="TCP port (0: any free one)")
    serve.add_argument("--max-labs", type=int, metavar="N", help="labs running at once (default: --learners)")
    serve.add_argument(
        "--idle-timeout", type=float, default=600, metavar="S", help="end a lab S seconds after its browser left"
    )
    serve.add_argument("--curl", metavar="PATH", help="the curl learners' shells run (default: $LAB_CURL or PATH's)")


def add_new(sub: Any) -> None:
    new = _command(
        sub,
        "new",
        "write a commented starter scenario to scenarios/NAME.toml",
        "A scenario to edit: the seed's network, one step, and a comment on every field (docs/scenarios.md has "
        "them all).",
        "lab new my-customer && lab check scenarios/my-customer.toml && lab run my-customer",
    )
    new.add_argument("name", metavar="NAME")


def add_import(sub: Any) -> None:
    import_ = _command(
        sub,
        "import",
        "draft a scenario from a pasted curl -v transcript",
        "Read what a customer pasted (a terminal session or a support chat), draft a scenario whose network "
        "gives the same outcomes with today's curl, replay it once and say which steps reproduce the "
        "transcript. What the paste does not tell is left as a TODO in the draft.",
        "lab import chat.txt -o scenarios/my-customer.toml\nlab import chat.txt --no-check",
    )
    import_.add_argument("transcript", metavar="TRANSCRIPT.txt")
    import_.add_argument("-o", "--output", metavar="FILE", help="write the draft here (default: print it)")
    import_.add_argument(
        "--check",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="replay the draft once and report which steps reproduce the transcript (default: on)",
    )
