"""Sphinx extension: render math as MathML at build time (``html_math_renderer = "mathml"``).

Why: Sphinx's default renderer, MathJax, is a script fetched from a CDN, so a site shown from a
laptop in a room without internet would print raw LaTeX and log console errors. docutils ships a
LaTeX-to-MathML converter, and every current browser draws MathML itself, so the pages need no
script and no network. A formula the converter cannot handle is shown as its LaTeX source in
``<code>``, with a build warning naming it.
"""

from __future__ import annotations

from html import escape

from docutils import nodes
from docutils.utils.math import latex2mathml
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)


def _mathml(latex: str, block: bool, node: nodes.Node) -> str:
    try:
        return latex2mathml.tex2mathml(latex, as_block=block)
    except Exception as error:  # the converter raises SyntaxError or ValueError on what it lacks
        logger.warning("cannot convert %r to MathML (%s); shown as LaTeX", latex, error, location=node)
        return f'<code class="math-fallback">{escape(latex)}</code>'


def visit_math(self, node: nodes.math) -> None:
    self.body.append(f'<span class="math">{_mathml(node.astext(), False, node)}</span>')
    raise nodes.SkipNode


def visit_displaymath(self, node: nodes.math_block) -> None:
    self.body.append(f'<div class="math">{_mathml(node.astext(), True, node)}</div>')
    raise nodes.SkipNode


def setup(app: Sphinx) -> dict:
    app.add_html_math_renderer("mathml", (visit_math, None), (visit_displaymath, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
