"""The knowledge cards' Markdown subset: the formatting an author uses becomes tags, and nothing
in a card can become markup of its own (HTML, event handlers, script links, attribute breaks)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import given, settings, strategies as st

from acd.knowledge.cards import parse_card
from acd.knowledge.markdown import render

ALLOWED = {"p", "h4", "h5", "h6", "ul", "ol", "li", "strong", "em", "code", "pre", "a"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_the_subset_becomes_tags():
    out = render("# Refunds\n\nCheck **the order** and *the date*, see `ref-1`.\n\n1. first\n2. second\n   continued\n\n"
                 "- a [form](https://example.com/f?a=1&b=2)\n- b\n\n```\nif x < 3: pass\n```")
    assert out.split("\n") == [
        "<h4>Refunds</h4>",
        "<p>Check <strong>the order</strong> and <em>the date</em>, see <code>ref-1</code>.</p>",
        "<ol><li>first</li><li>second continued</li></ol>",
        '<ul><li>a <a href="https://example.com/f?a=1&amp;b=2" rel="noopener noreferrer" target="_blank">form</a></li><li>b</li></ul>',
        "<pre><code>if x &lt; 3: pass</code></pre>"]
    assert render("snake_case_name stays, _this_ is emphasis") == "<p>snake_case_name stays, <em>this</em> is emphasis</p>"


def test_html_and_script_links_in_a_card_stay_text():
    out = render('<script>alert(1)</script>\n<img src=x onerror="alert(1)">\n[x](javascript:alert(1)) [y](JaVaScRiPt&#58;alert(1))'
                 ' [z](https://ok.example/"onmouseover="alert(1)) `<b>`')
    assert [t for t, _ in tags(out)] == ["p", "a", "code"]
    (_, link), = [t for t in tags(out) if t[0] == "a"]
    assert link == {"href": 'https://ok.example/"onmouseover="alert(1', "rel": "noopener noreferrer", "target": "_blank"}
    assert "&lt;script&gt;" in out and "<script" not in out and "<img" not in out


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>\"'&=/`*_#-[]() \n1.:ajvscriptonerhf\x00")), max_size=200))
def test_any_text_renders_only_the_subsets_tags_and_safe_links(text):
    out = render(text)
    for tag, attrs in tags(out):
        assert tag in ALLOWED, (text, out)
        if tag == "a":
            assert set(attrs) == {"href", "rel", "target"} and re.match(r"(https?://|mailto:)", attrs["href"] or "", re.I), (text, out)
        else:
            assert not attrs, (text, out)


def test_a_card_carries_its_rendered_body():
    card = parse_card("---\ntitle: T\nqueues: [general]\n---\nSay **no**.\n", "t.md")
    assert card.view()["html"] == "<p>Say <strong>no</strong>.</p>" and card.view()["body"] == "Say **no**."
