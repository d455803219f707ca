"""A small, safe Markdown subset for knowledge cards, rendered to HTML on the server.

Everything in the card is escaped first; only the markup below becomes tags, so a card can never
put its own HTML, scripts, styles or event handlers on the agent's desktop (raw HTML in a card is
shown as text). Links keep ``http``, ``https`` and ``mailto`` addresses only (anything else, such
as ``javascript:``, stays plain text) and open in a new tab without a referrer.

- blocks: paragraphs (blank-line separated), headings ``#`` to ``###`` (as ``h4``-``h6``: inside a
  card on the page), lists ``-``/``*``/``+`` and ``1.``, fenced code (three backticks);
- inline: ``**bold**``, ``*emphasis*`` or ``_emphasis_``, ```code```, ``[text](https://...)``.
"""

from __future__ import annotations

import html
import re

SAFE_SCHEMES = ("http://", "https://", "mailto:")

_HEADING = re.compile(r"^(#{1,3})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s{0,3}\d{1,9}[.)]\s+(.*)$")
_FENCE = re.compile(r"^\s{0,3}```")
_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_EM_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_EM_UNDERSCORE = re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])")


def render(text: str) -> str:
    """The card's Markdown as HTML: escaped text with the subset's tags only."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_tag: str | None = None
    lines = text.replace("\x00", "").replace("\r\n", "\n").split("\n")  # NUL marks code spans below

    def close() -> None:
        nonlocal list_tag
        if paragraph:
            out.append(f"<p>{inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if list_tag is not None:
            out.append(f"<{list_tag}>" + "".join(f"<li>{inline(i)}</li>" for i in items) + f"</{list_tag}>")
            items.clear()
            list_tag = None

    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if _FENCE.match(line):
            close()
            code: list[str] = []
            while i < len(lines) and not _FENCE.match(lines[i]):
                code.append(lines[i])
                i += 1
            i += 1  # the closing fence (or the end)
            out.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
            continue
        if not line.strip():
            close()
            continue
        heading = _HEADING.match(line)
        if heading:
            close()
            level = len(heading.group(1)) + 3
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
            continue
        bullet, numbered = _BULLET.match(line), _NUMBERED.match(line)
        item = bullet or numbered
        if item:
            tag = "ul" if bullet else "ol"
            if paragraph or list_tag != tag:
                close()
            list_tag = tag
            items.append(item.group(1))
            continue
        if list_tag is not None and line[:1].isspace():
            items[-1] += " " + line.strip()  # a list item's continuation line
            continue
        if list_tag is not None:
            close()
        paragraph.append(line.strip())
    close()
    return "\n".join(out)


def inline(text: str) -> str:
    """One line's inline markup, on its escaped text."""
    codes: list[str] = []

    def keep_code(m: re.Match[str]) -> str:
        codes.append(f"<code>{html.escape(m.group(1))}</code>")
        return f"\x00{len(codes) - 1}\x00"

    text = _CODE.sub(keep_code, text)  # nothing inside code is markup
    text = html.escape(text)
    text = _LINK.sub(_link, text)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    text = _EM_STAR.sub(r"<em>\1</em>", text)
    text = _EM_UNDERSCORE.sub(r"<em>\1</em>", text)
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], text)


def _link(m: re.Match[str]) -> str:
    label, href = m.group(1), m.group(2)  # both already escaped
    if not html.unescape(href).lower().startswith(SAFE_SCHEMES):
        return m.group(0)
    return f'<a href="{href}" rel="noopener noreferrer" target="_blank">{label}</a>'
