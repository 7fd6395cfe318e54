"""Why a request reached the host it reached: facts -> hops -> one decision -> the diagram.

Theory of operation. :func:`lab.explain.curlplan.plan` says what curl *meant* to do with its command
line. :func:`lab.explain.facts.gather` collects what was *observed*: curl's own output and the hosts'
events. :func:`lab.explain.decide.decide` picks the one decisive hop from the facts (the check that
stopped the request, else the routing decision that chose where it went), with its lesson and what would
change it. :mod:`lab.explain.hops` states each hop and :mod:`lab.explain.diagram` draws the arrows; both
mark the hop the decision names. :func:`drift` lists where real curl did something the plan did not
predict - a bug in the emulator, shown to the learner. Pure: no sockets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urljoin

from lab.explain import curlplan, diagram, hops
from lab.explain.curlplan import Plan
from lab.explain.decide import Decision, decide
from lab.explain.diagram import Message
from lab.explain.facts import Facts, gather
from lab.explain.hops import Hop
from lab.model.deciders import Decider
from lab.model.outcome import CurlResult
from lab.model.scenario import Scenario

__all__ = ["Hop", "Message", "Verdict", "drift", "explain", "explain_result"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    decision: Decision
    hops: tuple[Hop, ...]
    reached: str | None
    lanes: tuple[str, ...]
    messages: tuple[Message, ...]
    drift: tuple[str, ...] = ()  # where the emulator's plan and real curl disagree (should be empty)

    @property
    def decisive(self) -> Decider:
        return self.decision.decider

    @property
    def lesson(self) -> str:
        return self.decision.lesson

    @property
    def change(self) -> str:
        return self.decision.change

    def to_json(self) -> dict[str, Any]:
        return {
            "decisive": self.decisive,
            "decisive_hop": self.decision.hop,
            "cause": self.decision.cause,  # finer than the decider: "expired", "no-sni", "proxy-untrusted", ...
            "ending": self.decision.ending,  # when the routing decided: what the host did ("hello-hangup", ...)
            "lesson": self.lesson,
            "change": self.change,
            "hops": [asdict(h) for h in self.hops],
            "drift": list(self.drift),
        }


def explain(plan: Plan, facts: Facts, scenario: Scenario) -> Verdict:
    decision = decide(plan, facts, scenario)
    lanes, messages = diagram.draw(plan, facts, decision)
    return Verdict(
        decision=decision,
        hops=hops.all_hops(plan, facts, scenario, decision.hop),
        reached=facts.reached,
        lanes=lanes,
        messages=messages,
        drift=drift(plan, facts),
    )


def explain_result(scenario: Scenario, result: CurlResult) -> tuple[Plan, Verdict]:
    """Plan and verdict for a :class:`~lab.model.outcome.CurlResult` run in ``scenario``'s world.

    After redirects (``-L``) the plan is the one for the URL of curl's last request: the facts are of it."""
    version = result.curl.version.version if result.curl else None
    planned = curlplan.plan(result.argv, result.env, scenario.client.hosts, curl_version=version)
    facts = gather(result, scenario)
    if facts.redirects and planned.url is not None:
        last = planned.options.urls[0] if planned.options.urls else None
        url = str(last)
        for followed in facts.redirects:
            url = urljoin(url if "://" in url else f"http://{url}", followed.location)
        argv = tuple(url if arg == last else arg for arg in result.argv)
        planned = curlplan.plan(argv, result.env, scenario.client.hosts, curl_version=version)
    return planned, explain(planned, facts, scenario)


def drift(plan: Plan, facts: Facts) -> tuple[str, ...]:
    """Where real curl did something the plan did not predict: a bug in the emulator, shown to the learner."""
    problems: list[str] = []
    asked = facts.asked
    if asked is not None and plan.tunnel is not None and asked.target != plan.tunnel:
        problems.append(f"the proxy was asked for {asked.target}, the plan said {plan.tunnel}")
    if asked is not None and plan.proxy is None:
        problems.append("a proxy was used, the plan said none")
    if plan.tcp is not None and facts.curl.connected:
        ip = facts.curl.connected[-1 if facts.redirects else 0].split("(")[-1].split(")")[0]
        tried = (plan.tcp[0], *(plan.lookup.more if plan.lookup else ()))  # a list: curl goes on to the next
        if ip and ip not in tried:  # curl 8 names no address ("()") when it reached a SOCKS proxy
            problems.append(f"curl connected to {ip}, the plan said {plan.tcp[0]}")
    if facts.verbose and plan.options.verbose and tuple(facts.proxy_env) != plan.proxy_env:
        problems.append(f"curl reported proxy variables {facts.proxy_env}, the plan said {plan.proxy_env}")
    return tuple(problems)
