"""Sphinx extension: drop repeated ``<script>`` entries from each page.

Why: with Jupyter Book 1.0 and sphinx-thebe 0.3, notebook pages get sphinx-thebe's inline
configuration script twice, and the second ``const THEBE_JS_URL`` is a SyntaxError in the browser
console (the site's browser test fails on console errors). Identical entries are redundant by
definition, so keeping the first of each is safe whatever else adds scripts. (Sphinx itself
compares entries by priority too, and an inline script's file name is None or "" depending on
who added it, so its own de-duplication misses these.)
"""

from __future__ import annotations

from sphinx.application import Sphinx


def _unique(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    kept, seen = [], set()
    for script in scripts:
        # The same file or inline body with the same attributes is a repeat, whatever its priority,
        # and an inline script's file name is None or "" depending on who added it.
        key = (getattr(script, "filename", script) or "", repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", _unique, priority=900)  # after the extensions that add scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
