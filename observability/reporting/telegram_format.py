"""Report markdown → Telegram HTML, and HTML → messages of at most 4,096 characters.

Telegram's HTML mode accepts a few tags (b, i, code, pre, a, ...) and requires `<`, `>` and `&`
in text to be escaped; a message whose tags do not balance is rejected. So splitting happens on
line boundaries, and tags still open at a split are closed at the end of one message and
reopened at the start of the next. A single line longer than a message is cut between words.
"""

from __future__ import annotations

import html
import re

MAX_MESSAGE = 4096
_TAG_RE = re.compile(r"<(/?)([a-z-]+)([^>]*)>")
_CODE_RE = re.compile(r"`([^`\n]+)`")
_BOLD_RE = re.compile(r"\*\*([^*\n]+)\*\*")
_MD_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>&])")


def escape(text: str) -> str:
    """Escape engine text for Telegram HTML (only &, <, > are special there)."""
    return html.escape(text, quote=False)


def _unescape(text: str) -> str:
    return escape(_MD_ESCAPE_RE.sub(r"\1", text))


def _plain(text: str) -> str:
    """Markdown text (no code spans) → HTML: **bold** becomes <b>, the rest is escaped."""
    parts = _BOLD_RE.split(text)
    return "".join(f"<b>{_unescape(p)}</b>" if i % 2 else _unescape(p) for i, p in enumerate(parts))


def _inline(text: str) -> str:
    out, pos = [], 0
    for m in _CODE_RE.finditer(text):
        out.append(_plain(text[pos:m.start()]))
        out.append(f"<code>{escape(m.group(1))}</code>")
        pos = m.end()
    out.append(_plain(text[pos:]))
    return "".join(out)


def markdown_to_html(md: str) -> str:
    """The subset our reports use: headings, tables (as `label: value` lines), lists, inline code."""
    lines = md.splitlines()
    out: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("#"):
            out.append(f"<b>{_inline(stripped.lstrip('#').strip())}</b>")
        elif re.fullmatch(r"\|[\s\-:|]+\|", stripped):
            continue
        elif stripped.startswith("|") and stripped.endswith("|"):
            if i + 1 < len(lines) and re.fullmatch(r"\|[\s\-:|]+\|", lines[i + 1].strip()):
                continue
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            out.append(_inline(cells[0]) + ": " + _inline(" ".join(cells[1:])))
        elif stripped.startswith("- "):
            out.append("• " + _inline(stripped[2:]))
        else:
            out.append(_inline(line))
    return "\n".join(out)


def _units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _track(stack: list[tuple[str, str]], text: str) -> None:
    for m in _TAG_RE.finditer(text):
        closing, name = m.group(1), m.group(2)
        if closing:
            for j in range(len(stack) - 1, -1, -1):
                if stack[j][0] == name:
                    del stack[j]
                    break
        else:
            stack.append((name, m.group(0)))


def _closers(stack: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _openers(stack: list[tuple[str, str]]) -> str:
    return "".join(tag for _, tag in stack)


def _pieces(line: str, room: int) -> list[str]:
    """Cut an over-long line between words (never inside a tag or an entity); concatenating gives the line."""
    tokens = re.findall(r"<[^>]*>|&[#\w]+;|\s+|[^\s<&]+|[<&]", line)
    pieces, cur = [], ""
    for tok in tokens:
        while _units(tok) > room:  # one giant word (no tags or entities inside): cut it anywhere
            if cur:
                pieces.append(cur)
                cur = ""
            pieces.append(tok[:room])
            tok = tok[room:]
        if cur and _units(cur + tok) > room:
            pieces.append(cur)
            cur = ""
        cur += tok
    if cur:
        pieces.append(cur)
    return pieces


def _has_text(message: str) -> bool:
    """Telegram refuses a message with no visible text ("message text is empty"), e.g. tags reopened
    before a split that leaves only whitespace; such a message carries nothing and is dropped."""
    return bool(html.unescape(_TAG_RE.sub("", message)).strip())


_RESERVE = 200
"""Room kept for the tags reopened at the start and closed at the end of a message."""


def split_html(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Messages of at most `limit` units, split on line boundaries, each with balanced tags."""
    messages: list[str] = []
    stack: list[tuple[str, str]] = []
    current = ""

    def flush() -> None:
        nonlocal current
        if _has_text(current):
            messages.append(current + _closers(stack))
        current = ""

    for line in text.split("\n"):
        fits = _units(_openers(stack) + line) + _RESERVE <= limit
        segments = [line] if fits else _pieces(line, limit - _RESERVE)
        for i, seg in enumerate(segments):
            sep = "\n" if current and i == 0 else ""
            after = list(stack)
            _track(after, seg)
            if current and _units(current + sep + seg + _closers(after)) > limit:
                flush()
                sep = ""
            if not current:
                current = _openers(stack)
            current += sep + seg
            stack = after
    flush()
    return [m.strip("\n") for m in messages]
