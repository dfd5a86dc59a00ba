"""The page's look: the Gradio theme and the CSS of the chat page, light and dark.

Colours are CSS variables set twice, for the light page and for Gradio's dark mode
(the ``.dark`` class Gradio puts on the page for ``?__theme=dark`` or a dark system
setting); backgrounds of panels use Gradio's own theme variables
(``--background-fill-*``, ``--body-text-color``, ``--border-color-*``) so a panel
never keeps a light background under light text. Every text colour meets WCAG AA
(4.5:1) on its background in both themes (the browser tests run axe-core in both).
The lead line of an answer (the short answer, ``.lead``) has its own look: larger and
bold, set apart from the quote under it. Phone widths (under 768 px): a shorter chat
so the question box and the example questions fit on the first screen.
Does not decide what is shown (ui/render.py, ui/app.py do).
"""
from __future__ import annotations

PRODUCT = "rag-offline"

CSS = """
:root, .light {
  --rag-accent: #1d4ed8; --rag-muted: #4b5563; --rag-selected-bg: #eff6ff; --rag-passage-bg: #e0f2fe;
  --rag-passage-line: #0369a1; --rag-quote-bg: #fde68a; --rag-quote-fg: #111827; --rag-short-bg: #f59e0b;
  --rag-bad-bg: #fee2e2; --rag-bad-fg: #7f1d1d; --rag-bad-line: #b91c1c; --rag-lead: #0f172a;
  --rag-ok-fg: #166534; --rag-err-fg: #991b1b; --rag-row-hover: #f3f4f6;
}
.dark {
  --rag-accent: #93c5fd; --rag-muted: #cbd5e1; --rag-selected-bg: #1e293b; --rag-passage-bg: #0c3550;
  --rag-passage-line: #38bdf8; --rag-quote-bg: #fde68a; --rag-quote-fg: #111827; --rag-short-bg: #f59e0b;
  --rag-bad-bg: #450a0a; --rag-bad-fg: #fecaca; --rag-bad-line: #f87171; --rag-lead: #f8fafc;
  --rag-ok-fg: #86efac; --rag-err-fg: #fca5a5; --rag-row-hover: #1f2937;
}
h1.rag-title {font-size: 1.5rem; margin: 0; line-height: 1.3;}
h1.rag-title .sub {font-weight: 400; color: var(--rag-muted); font-size: 1rem; margin-left: 0.5em;}
.welcome {margin: 0; color: var(--body-text-color);} .welcome b {font-weight: 600;}
.src {border-left: 3px solid var(--rag-muted); padding: 4px 10px; margin: 0 0 14px 0; color: var(--body-text-color);}
.src.selected {border-left: 5px solid var(--rag-accent); background: var(--rag-selected-bg);
  color: var(--body-text-color);}
.src h3, .docview h3 {font-size: 1em; margin: 0; color: var(--body-text-color);}
.meta, .hint, .for {color: var(--rag-muted); font-size: 0.9em;}
mark.quote {background: var(--rag-quote-bg); color: var(--rag-quote-fg); padding: 0 2px;}
mark.short {background: var(--rag-short-bg); color: #111827; font-weight: 600;}
.passage {background: var(--rag-passage-bg); border-bottom: 2px solid var(--rag-passage-line);
  color: var(--body-text-color);}
.doctext {max-height: 60vh; overflow-y: auto; line-height: 1.5; padding-right: 6px; color: var(--body-text-color);}
.doctext:focus-visible {outline: 3px solid var(--rag-accent);}
.dochead {display: flex; justify-content: space-between; align-items: center; gap: 8px;}
.docbody {display: flex; gap: 12px; align-items: flex-start;} .docbody > .doctext {flex: 1 1 0; min-width: 0;}
.pageimg {flex: 1 1 0; min-width: 0; margin: 0;} .pageimg img {width: 100%; height: auto;
  border: 1px solid var(--border-color-primary); background: #fff;}
.pageimg figcaption {color: var(--rag-muted); font-size: 0.85em;}
@media (max-width: 1100px) { .docbody {flex-direction: column;} }
.open-doc, .close-doc, .docs-act {border: 1px solid var(--rag-accent); color: var(--rag-accent);
  background: var(--background-fill-primary); border-radius: 6px; padding: 2px 10px; cursor: pointer; font-size: 0.9em;}
a.cite {color: var(--rag-accent); font-weight: 600; text-decoration: underline;}
.lead {display: block; font-size: 1.25em; font-weight: 700; color: var(--rag-lead); margin-bottom: 0.2em;}
.unsupported {background: var(--rag-bad-bg); color: var(--rag-bad-fg); text-decoration: underline wavy var(--rag-bad-line);}
.unsupported-badge {background: #b91c1c; color: #fff; border-radius: 4px; padding: 0 4px; font-size: 0.85em;}
.support, .writing {color: var(--rag-muted); font-size: 0.9em;}
table.docs {width: 100%; border-collapse: collapse; color: var(--body-text-color);}
table.docs td, table.docs th {padding: 4px 6px; border-bottom: 1px solid var(--border-color-primary);
  text-align: left; vertical-align: top;}
table.docs th button {all: unset; cursor: pointer; font-weight: 600; color: var(--body-text-color);}
table.docs th button:focus-visible {outline: 3px solid var(--rag-accent);}
table.docs tbody tr:hover {background: var(--rag-row-hover);}
table.docs td.num {text-align: right; white-space: nowrap;}
.docs-tools {display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin-bottom: 6px;}
.docs-tools input {flex: 1 1 14rem; padding: 4px 8px; border: 1px solid var(--rag-muted); border-radius: 6px;
  background: var(--background-fill-primary); color: var(--body-text-color);}
.docs-tools label {color: var(--body-text-color);}
#documents table.docs button.doc-open {all: unset; color: var(--rag-accent); text-decoration: underline;
  cursor: pointer; font-weight: 600; text-align: left;}
#documents table.docs button.doc-open:focus-visible {outline: 3px solid var(--rag-accent) !important;}
#documents table.docs td, #documents table.docs th {border-left: 0; border-right: 0; border-top: 0;}
#documents table.docs {border: 0;}
.docs-act.remove {border-color: var(--rag-bad-line); color: var(--rag-err-fg);}
ul.uploads {list-style: none; padding: 0; margin: 0;} ul.uploads li {padding: 4px 0;
  border-bottom: 1px solid var(--border-color-primary); color: var(--body-text-color);}
ul.uploads .ok {color: var(--rag-ok-fg); font-weight: 600;} ul.uploads .bad {color: var(--rag-err-fg); font-weight: 600;}
ul.uploads .busy {color: var(--rag-accent); font-weight: 600;} ul.uploads .what {display: block; color: var(--rag-muted);}
ul.uploads progress {vertical-align: middle; width: 8rem;}
textarea::placeholder, input::placeholder {color: var(--rag-muted) !important; opacity: 1 !important;}
input.border-none {color: var(--body-text-color) !important;}   /* a dropdown's text box (Gradio greys it out) */
.info-text, #upload .or, #upload .wrap {color: var(--rag-muted) !important;}
button[role=tab] {color: var(--body-text-color) !important;}
button[role=tab][aria-selected=true] {color: var(--rag-accent) !important;}
:focus-visible {outline: 3px solid var(--rag-accent) !important; outline-offset: 2px;}
@media (max-width: 767px) {
  #chat {height: 40vh !important; min-height: 180px;}
  #chat:not(:has(.message)) {display: none;}   /* an empty conversation: the welcome, box and examples first */
  h1.rag-title {font-size: 1.2rem;}
  .welcome {font-size: 0.9em;}
}
"""


def theme():
    """Gradio's base theme with the system fonts (no web font: the page loads nothing from other hosts)."""
    import gradio as gr

    system = ["ui-sans-serif", "system-ui", "sans-serif"]
    return gr.themes.Base(font=system, font_mono=["ui-monospace", "monospace"])
