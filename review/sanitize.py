"""The only module that imports bleach: untrusted HTML in, safe HTML or plain
text out. Swapping bleach for nh3 changes this file alone."""
from __future__ import annotations

import html
import re
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


# Elements whose content is code or metadata, never text a reader sees (a paste from Word
# brings a <style> block). bleach would strip their tags and keep that content as text.
_HIDDEN = re.compile(r"<(script|style|template|noscript|title|head|xml)\b[^>]*>.*?</\1\s*>", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->|<![^>]*>|<\?[^>]*>", re.S)
# A tag as markup writes it: a name, then attributes with ASCII names. "<b 且 c>" typed as
# text is not one, though an HTML parser reads it as <b> and drops "且 c".
_TAG = re.compile(r"""</?[A-Za-z][A-Za-z0-9:-]*(?:\s+[A-Za-z_:@][-A-Za-z0-9_:.@]*"""
                  r"""(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*\s*/?>""")
_SPACE = re.compile(r"\s+")


def clean_html(untrusted: str) -> str:
    """Keep harmless formatting; drop scripts, styles, handlers and dangerous URLs."""
    return bleach.clean(
        _HIDDEN.sub("", untrusted),
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


def dropped_text(untrusted: str, text: str) -> str | None:
    """What a reader of *untrusted* HTML would miss in *text* (html_to_text of its cleaned
    form): the first few characters that cleaning lost, or None. The untrusted HTML is read
    leniently (only well-formed tags, comments, scripts and styles are markup), so text typed
    with "<" and ">" in it is caught rather than silently cut."""
    loose = _SPACE.sub("", html.unescape(_TAG.sub("", _COMMENT.sub("", _HIDDEN.sub("", untrusted)))))
    kept = _SPACE.sub("", text)
    if loose == kept:
        return None
    i = next((i for i, (a, b) in enumerate(zip(loose, kept)) if a != b), min(len(loose), len(kept)))
    return loose[i:i + 20] or None  # nothing missing: cleaning added text (it never does)
