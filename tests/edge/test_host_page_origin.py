"""The editor's origin on the host page (edge/host/page.py origin_of): it is written into the page's
Content-Security-Policy, and the URL it comes from is the tenant's discovery (urlsrc, favIconUrl)."""

from __future__ import annotations

import pytest

from edge.host.page import origin_of


def test_an_origin_is_the_scheme_host_and_port_of_the_url_only() -> None:
    assert origin_of("http://collabora.test:9980/browser/61cf2b4/cool.html?WOPISrc=x") == "http://collabora.test:9980"


def test_the_default_port_is_left_out_as_browsers_serialise_origins() -> None:
    assert origin_of("HTTPS://Office.Example:443/hosting/wordeditorframe.aspx?") == "https://office.example"


def test_an_ipv6_literal_keeps_its_brackets() -> None:
    assert origin_of("http://[2001:DB8::0:1]:8080/cool.html") == "http://[2001:db8::1]:8080"


@pytest.mark.parametrize("url", [
    "https://x.example;frame-ancestors *;/cool.html?",
    "https://x.example frame-ancestors * ;a/cool.html?",
    "https://x.example,frame-ancestors */cool.html?",
    "https://x.example'/cool.html?",
    'https://x.example"/cool.html?',
    "https://[::1;frame-ancestors]/cool.html?",
], ids=["semicolon", "space", "comma", "single-quote", "double-quote", "in-brackets"])
def test_a_host_carrying_policy_syntax_has_no_origin(url: str) -> None:
    assert origin_of(url) is None


@pytest.mark.parametrize("url", ["javascript:alert(1)//x.example/", "data:text/html,x", "ftp://x.example/",
                                 "//x.example/cool.html", "cool.html"])
def test_only_absolute_http_and_https_urls_have_an_origin(url: str) -> None:
    assert origin_of(url) is None


@pytest.mark.parametrize("url", ["https://user:pass@x.example/", "https://x.example:99999/", "https://x.example:1a/",
                                 "https:///cool.html", "http://[fe80::1%25eth0]/", "https://b\u00fccher.example/"])
def test_user_info_bad_ports_empty_hosts_zones_and_raw_unicode_have_no_origin(url: str) -> None:
    assert origin_of(url) is None
