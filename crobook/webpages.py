"""The built website made lighter before it is published: what a reader's browser need not fetch or parse.

- No Font Awesome script (1.5 MB): the theme's stylesheet already draws the same icons with the icon font.
- The search scripts, which the theme puts in every page's head, wait until the page is read (`defer`).
- Fewer and smaller stylesheets in the way of the first paint: `basic.css` linked directly rather than through
  `theme.css`'s @import, no `pygments.css` (the book shows no code), and every rule whose selectors name a
  class that no page and no script of this site uses dropped, the way PurgeCSS does it. The theme's stylesheet
  goes from about 65 kB to 18 kB compressed.
"""

from __future__ import annotations

import re
from pathlib import Path

from crobook.site import write_favicon

ICON_SCRIPT = re.compile(r'<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>\s*')
SEARCH_SCRIPTS = re.compile(r'<script src="([^"]*(?:searchtools|language_data|searchindex)\.js[^"]*)"></script>')
THEME_CSS = re.compile(r'href="([^"]*_static/)styles/theme\.css[^"]*"')
PYGMENTS_CSS = re.compile(r'<link rel="stylesheet" type="text/css" href="[^"]*_static/pygments\.css[^"]*" />\s*')
COMMENT = re.compile(r"/\*.*?\*/", re.S)
RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")  # an innermost rule: selectors and a body without braces
ARGUMENTS = re.compile(r"\([^()]*\)")
CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
WORD = re.compile(r"[\w-]+")


def lighten(html_dir: Path) -> None:
    """Lighten every page and stylesheet of a built website in place, and give it a favicon.ico."""
    words: set[str] = set()
    for page in html_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        lighter = SEARCH_SCRIPTS.sub(r'<script defer src="\1"></script>', ICON_SCRIPT.sub("", text))
        lighter = THEME_CSS.sub(r'href="\1basic.css"', PYGMENTS_CSS.sub("", lighter))
        if lighter != text:
            page.write_text(lighter, encoding="utf-8")
        words |= set(WORD.findall(lighter))
    for path in (html_dir / "_static" / "scripts").glob("fontawesome.js*"):
        path.unlink()
    for script in html_dir.rglob("*.js"):
        words |= set(WORD.findall(script.read_text(encoding="utf-8", errors="replace")))
    for sheet in (html_dir / "_static").rglob("*.css"):
        sheet.write_text(purge(sheet.read_text(encoding="utf-8"), words), encoding="utf-8")
    write_favicon(html_dir)


def selectors(text: str) -> list[str]:
    """A selector list split at its top-level commas (not those inside `:is(...)` and the like)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def needed_classes(selector: str) -> set[str]:
    """The classes an element must have for `selector` to match: those inside `:not(...)`, `:is(...)` and other
    arguments are left out, since a selector can match without them."""
    while ARGUMENTS.search(selector):
        selector = ARGUMENTS.sub("", selector)
    return set(CLASS.findall(selector))


def purge(css: str, words: set[str]) -> str:
    """`css` without the selectors that need a class missing from `words`, and without rules left with none.
    At-rules (@font-face, @keyframes steps) and selectors without classes are kept."""

    def keep(rule: re.Match) -> str:
        head, body = rule.group(1), rule.group(2)
        if head.lstrip().startswith("@"):
            return rule.group(0)
        kept = [s for s in selectors(head) if needed_classes(s) <= words]
        return ",".join(kept) + "{" + body + "}" if kept else ""

    return RULE.sub(keep, COMMENT.sub("", css))


def write_vega_bundle(static_dir: Path) -> Path:
    """Write Vega, Vega-Lite and Vega-Embed as one local script; the website loads it on every page."""
    import vl_convert

    from crobook.cache import USER_CACHE, kept

    path = static_dir / "vega-bundle.js"
    if not path.exists():
        static_dir.mkdir(parents=True, exist_ok=True)
        # vl-convert takes about a second to hand its bundle over; it is the same for every build of a version.
        text = kept(USER_CACHE / f"vega-bundle-{vl_convert.__version__}.js", vl_convert.javascript_bundle)
        path.write_text("(function(){\n" + text + "\n})();\n", encoding="utf-8")
    return path
