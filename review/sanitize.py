"""The only module that imports bleach: untrusted HTML in, safe HTML or plain
text out. Swapping bleach for nh3 changes this file alone."""
from __future__ import annotations

from html.parser import HTMLParser

import bleach

ALLOWED_TAGS = frozenset({
    "p", "br", "b", "strong", "i", "em", "u", "s", "sub", "sup",
    "h1", "h2", "h3", "h4", "blockquote", "ul", "ol", "li", "a", "span",
    "table", "thead", "tbody", "tr", "th", "td", "hr",
})
ALLOWED_ATTRIBUTES = {"a": ["href", "title"], "td": ["colspan", "rowspan"], "th": ["colspan", "rowspan"]}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})

# Elements whose end starts a new line in the extracted text.
_BLOCK = {"p", "br", "h1", "h2", "h3", "h4", "blockquote", "li", "tr", "hr", "div", "table", "ul", "ol"}


def clean_html(untrusted: str) -> str:
    """Keep harmless formatting; drop scripts, handlers and dangerous URLs."""
    return bleach.clean(
        untrusted,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        strip_comments=True,
    )


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _BLOCK and tag != "br":
            self.parts.append("\n")

    def handle_data(self, data):
        self.parts.append(data)


def html_to_text(safe_html: str) -> str:
    """The readable text of (already cleaned) HTML: what is scanned and reviewed."""
    parser = _TextExtractor()
    parser.feed(safe_html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()
