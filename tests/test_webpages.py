"""The website's pages and stylesheets made lighter: what is dropped, and what must never be."""

from crobook.webpages import lighten, purge

CSS = """/* a comment naming .unused */
:root{--x:1}
.used{color:red}
.unused{color:blue}
.used .unused,.used>p{margin:0}
.unused:not(.used){padding:0}
p:not(.unused){padding:1px}
:is(.unused,.used) a{border:0}
@media (min-width:960px){.unused{color:green}.used.also{color:black}}
@font-face{font-family:x;src:url(x.woff2)}
@keyframes spin{0%{opacity:0}to{opacity:1}}
"""


def test_purge_drops_only_selectors_that_need_a_class_no_page_uses():
    out = purge(CSS, {"used", "also"})
    assert ".unused{" not in out and "color:blue" not in out and "color:green" not in out
    assert ".used{color:red}" in out and ".used>p{margin:0}" in out and ".used .unused" not in out
    assert "p:not(.unused){padding:1px}" in out  # a class inside :not() is not needed to match
    assert ":is(.unused,.used) a{border:0}" in out  # nor one inside :is()
    assert "@media (min-width:960px){.used.also{color:black}}" in out
    assert "@font-face{font-family:x;src:url(x.woff2)}" in out and "0%{opacity:0}to{opacity:1}" in out
    assert ":root{--x:1}" in out and "comment" not in out
    assert "padding:0}" not in out  # .unused:not(.used) needs .unused


def test_lighten_rewrites_pages_and_sheets_in_place(tmp_path):
    html = tmp_path / "html"
    (html / "_static" / "styles").mkdir(parents=True)
    (html / "_static" / "scripts").mkdir()
    (html / "_static" / "scripts" / "fontawesome.js").write_text("x", encoding="utf-8")
    (html / "_static" / "theme.js").write_text("el.classList.add('shown')", encoding="utf-8")
    (html / "_static" / "styles" / "theme.css").write_text(".shown{a:b}.hidden{c:d}.page{e:f}", encoding="utf-8")
    page = html / "index.html"
    page.write_text(
        '<head><link href="_static/styles/theme.css?digest=1" rel="stylesheet" />'
        '<link rel="stylesheet" type="text/css" href="_static/pygments.css?v=1" />'
        '<script defer src="_static/scripts/fontawesome.js?digest=1"></script>'
        '<script src="_static/searchtools.js"></script></head><body class="page"></body>',
        encoding="utf-8",
    )
    lighten(html)
    text = page.read_text(encoding="utf-8")
    assert 'href="_static/basic.css"' in text and "pygments" not in text and "fontawesome" not in text
    assert '<script defer src="_static/searchtools.js"></script>' in text
    assert not (html / "_static" / "scripts" / "fontawesome.js").exists()
    sheet = (html / "_static" / "styles" / "theme.css").read_text(encoding="utf-8")
    assert sheet == ".shown{a:b}.page{e:f}"  # a class a script adds counts as used
    assert (html / "favicon.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"
