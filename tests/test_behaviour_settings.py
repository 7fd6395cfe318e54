"""The settings of the origin host and of proxy rules: typed, checked, every error with its file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import ScenarioError
from lab.model import scenario
from lab.model.behaviours import Fail, OriginSettings, PathAnswer, ProxyRule, first_rule
from lab.model.hostsettings import ProxySettings


def _load(tmp_path: Path, text: str) -> scenario.Scenario:
    path = tmp_path / "s.toml"
    path.write_text('title = "t"\n' + text, encoding="utf-8")
    return scenario.load(path)


def test_origin_settings_read_back(tmp_path: Path) -> None:
    loaded = _load(
        tmp_path,
        '[hosts.www]\nkind = "origin"\naddress = "10.3.3.4:80"\ntls = false\n'
        'paths = { "/" = { status = 302, location = "/en/" } }\n'
        '[hosts.gw]\nkind = "origin"\naddress = "192.0.2.10:443"\n'
        'fail = { at = "client-hello", alert = "unknown_ca" }\n',
    )
    www, gw = loaded.hosts["www"].settings, loaded.hosts["gw"].settings
    assert isinstance(www, OriginSettings)
    assert isinstance(gw, OriginSettings)
    assert (www.tls, www.answer_for("/?q=1"), www.answer_for("/en/")) == (
        False,
        PathAnswer(status=302, location="/en/"),
        PathAnswer(),
    )
    assert gw.fail == Fail(at="client-hello", alert="unknown_ca")


BAD = [
    ('[hosts.a]\nkind = "origin"\naddress = "1.2.3.4:443"\nfail = { at = "client-hello", alert = "nope" }\n', 5,
     "unknown TLS alert 'nope'"),
    ('[hosts.a]\nkind = "origin"\naddress = "1.2.3.4:443"\nfail = { at = "server-hello", alert = "unknown_ca" }\n', 5,
     "an alert is sent at client-hello only"),
    ('[hosts.a]\nkind = "origin"\naddress = "1.2.3.4:443"\nlocation = "/x"\n', 5, "'location' needs a redirect status"),
    ('[hosts.a]\nkind = "origin"\naddress = "1.2.3.4:443"\nversions = { min = "1.3", max = "1.2" }\n', 5,
     "min 1.3 is above max 1.2"),
    ('[hosts.a]\nkind = "origin"\naddress = "1.2.3.4:443"\nanswer = "maybe"\n', 5, "unknown answer 'maybe'"),
    ('[hosts.p]\nkind = "http-proxy"\naddress = "1.2.3.4:3128"\nrules = [{ to = "*", reply = 200 }]\n', 5,
     "'reply' must be an HTTP status 300-599"),
    ('[hosts.p]\nkind = "socks5"\naddress = "1.2.3.4:1080"\nrules = [{ to = "*", reply = 9 }]\n', 5,
     "'reply' must be a SOCKS5 reply code 1-8"),
    ('[hosts.p]\nkind = "socks5"\naddress = "1.2.3.4:1080"\nrules = [{ reply = 2 }]\n', 5, "a rule needs 'to'"),
    ('[hosts.p]\nkind = "http-proxy"\naddress = "1.2.3.4:3128"\ncert = { names = ["p"] }\n', 5, "add tls = true"),
    ('[hosts.p]\nkind = "socks5"\naddress = "1.2.3.4:1080"\ntls = true\n', 5,
     "unknown setting 'tls' for a socks5 host"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "message"), BAD)
def test_bad_settings_name_their_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        _load(tmp_path, text)
    assert any(e.line == line and message in e.message for e in caught.value.all), str(caught.value)


def test_proxy_settings_with_rules_and_tls(tmp_path: Path) -> None:
    loaded = _load(
        tmp_path,
        '[hosts.p]\nkind = "http-proxy"\naddress = "10.9.9.9:3443"\ntls = true\n'
        'rules = [{ to = "*:8443", reply = 403 }, { to = "slow.test", reply = "slow", delay = 2 }]\n',
    )
    settings = loaded.hosts["p"].settings
    assert isinstance(settings, ProxySettings)
    assert settings.cert is not None
    assert settings.cert.names == ("p",)
    assert settings.rules[1] == ProxyRule(to="slow.test", reply="slow", delay=2.0)


@pytest.mark.parametrize(
    ("host", "port", "matched"),
    [("mydomain", 8443, "*:8443"), ("MyDomain", 443, "mydomain"), ("slow.test", 80, "*"), ("other", 443, "*")],
)
def test_the_first_matching_rule_decides(host: str, port: int, matched: str) -> None:
    rules = (ProxyRule(to="*:8443", reply=403), ProxyRule(to="mydomain", reply="drop"), ProxyRule(to="*", reply=502))
    rule = first_rule(rules, host, port)
    assert rule is not None
    assert rule.to == matched
