"""The conversation as a file to download: Markdown (for people) or JSON (for programs).

The Markdown is a transcript: each question, the answer, then its sources
(document, page, the cited sentences). It is a file the person saves, not shown
on the page. Does not include the passages' full text in Markdown (the JSON has
everything the session holds).
"""
from __future__ import annotations

import json


def to_markdown(turns: list[dict]) -> str:
    lines = ["# Conversation", ""]
    for t in turns:
        lines += [f"**Question:** {t['question']}", "", t["answer"], ""]
        if t.get("notice"):
            lines += [f"_Note: {t['notice']}_", ""]
        for s in t.get("sources", []):
            where = s["doc"] + (f", page {s['page']}" if s.get("page") else "")
            label = "nearest passage" if t.get("nearest") else f"[{s['marker']}]"
            lines.append(f"- {label} {s['title']} ({where})")
            for a, b in s.get("quotes", []):
                lines.append(f"  > {' '.join(s['text'][a - s['start']:b - s['start']].split())}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def to_json(turns: list[dict]) -> str:
    return json.dumps({"conversation": turns}, ensure_ascii=False, indent=2)


def payload(turns: list[dict], kind: str) -> str:
    """What the page's download script gets: {"name", "mime", "text"} as JSON."""
    if kind == "json":
        return json.dumps({"name": "conversation.json", "mime": "application/json", "text": to_json(turns)})
    return json.dumps({"name": "conversation.md", "mime": "text/markdown", "text": to_markdown(turns)})
