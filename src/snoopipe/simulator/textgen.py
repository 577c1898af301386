"""Synthetic text for generated posts and comments, and Reddit-style ``*_html``.

Bodies have lognormal lengths (median ~100-500 characters, some many KB) and
contain what real bodies contain and what breaks naive parsers: unicode,
emoji, newlines, tabs, quotes, backslashes, markdown, code, links.
"""

from __future__ import annotations

import html
import math
import random
import re

_COMMON = (
    "the of and to in is it that for you was with on as have but be they at one this "
    "not what all were we when your can said there use an each which she do how their if "
    "will up other about out many then them these so some her would make like him into time "
    "has look two more write go see number no way could people my than first water been call "
    "who its now find long down day did get come made may part really just think actually "
    "probably honestly basically anyway though because maybe still already never always"
).split()

_TOPIC = {
    "python": "python pip venv asyncio pandas numpy decorator generator typing mypy pytest "
              "dataclass GIL CPython PyPy import module package wheel poetry uv ruff django "
              "flask fastapi pydantic list dict tuple lambda comprehension iterator".split(),
    "dataengineering": "pipeline airflow dag spark parquet iceberg delta lake warehouse "
                       "snowflake redshift dbt kafka batch streaming idempotent backfill "
                       "partition schema CDC orchestration glue athena s3 lakehouse ETL ELT "
                       "upsert watermark SLA lineage".split(),
    "datascience": "model regression feature notebook jupyter sklearn xgboost overfitting "
                   "validation dataset label bias variance sampling bootstrap bayesian "
                   "embedding transformer LLM metric AUC precision recall pandas SQL".split(),
}
_GENERIC_TOPIC = ("job career team manager project deadline code bug server laptop docs "
                  "tutorial question answer opinion experience company interview").split()

_UNICODE = ["café", "naïve", "über", "jalapeño", "façade", "Ελληνικά", "日本語", "中文",
            "한국어", "Ünïcödé", "résumé", "smörgåsbord", "Łódź", "€100", "£5", "±3σ", "→",
            "…", "—", "–", "’", "“quoted”", "«guillemets»", "½", "™", "ℹ️", "✓", "∑x²",
            "R&D", "a < b", "x > y", ">>>", "<3", "&amp;", "->", "'single'", "\\path\\to"]
_EMOJI = ["🚀", "😂", "👍", "🐍", "🔥", "🤔", "😅", "🎉", "💯", "🙏", "📈", "🤷‍♂️", "👀",
          "❤️", "😭", "🙃", "👨‍💻", "🧵", "⚠️", "🇩🇪"]
_DOMAINS = ["github.com", "medium.com", "youtube.com", "arxiv.org", "docs.python.org",
            "stackoverflow.com", "en.wikipedia.org", "blog.example.com", "news.ycombinator.com",
            "towardsdatascience.com", "i.imgur.com", "substack.com"]
_END = [".", ".", ".", ".", "?", "!", "...", " :)", ""]


def topic_words(subreddit: str) -> list[str]:
    return _TOPIC.get(subreddit.lower(), _GENERIC_TOPIC)


def lognormal_length(rng: random.Random, median: float, sigma: float, cap: int) -> int:
    return max(1, min(cap, int(rng.lognormvariate(math.log(median), sigma))))


def _sentence(rng: random.Random, vocab: list[str], topic: list[str]) -> str:
    n = rng.randint(3, 22)
    words = rng.choices(vocab, k=n)
    for _ in range(rng.randint(0, 3)):
        words[rng.randrange(n)] = rng.choice(topic)
    r = rng.random()
    if r < 0.08:
        words.insert(rng.randrange(n + 1), rng.choice(_EMOJI))
    elif r < 0.14:
        words.insert(rng.randrange(n + 1), rng.choice(_UNICODE))
    elif r < 0.19:
        words.insert(rng.randrange(n + 1), "`" + rng.choice(topic) + "()`")
    elif r < 0.23:
        words.insert(rng.randrange(n + 1), "**" + rng.choice(topic) + "**")
    elif r < 0.26:
        words.insert(rng.randrange(n + 1), '"' + " ".join(rng.choices(vocab, k=3)) + '"')
    elif r < 0.28:
        words.insert(rng.randrange(n + 1), "it's")
    elif r < 0.30:
        d = rng.choice(_DOMAINS)
        words.insert(rng.randrange(n + 1), f"[{rng.choice(topic)}](https://{d}/{rng.choice(topic)})")
    s = " ".join(words)
    return s[:1].upper() + s[1:] + rng.choice(_END)


def _block(rng: random.Random, vocab: list[str], topic: list[str]) -> str:
    r = rng.random()
    if r < 0.06:
        lines = [f"    {rng.choice(topic)} = {rng.choice(topic)}({rng.randint(0, 99)})"
                 for _ in range(rng.randint(1, 5))]
        if rng.random() < 0.5:
            lines.append("    \tprint(\"tab\\tand \\\\backslash\")")
        return "\n".join(lines)
    if r < 0.11:
        return "> " + _sentence(rng, vocab, topic)
    if r < 0.16:
        return "\n".join("* " + _sentence(rng, vocab, topic) for _ in range(rng.randint(2, 5)))
    sentences = [_sentence(rng, vocab, topic) for _ in range(rng.randint(1, 5))]
    sep = "\n" if rng.random() < 0.1 else " "
    return sep.join(sentences)


def make_text(rng: random.Random, subreddit: str, target: int) -> str:
    """Markdown-ish text of about ``target`` characters (never empty)."""
    topic = topic_words(subreddit)
    vocab = _COMMON + topic
    parts: list[str] = []
    size = 0
    while size < target:
        block = _block(rng, vocab, topic)
        parts.append(block)
        size += len(block) + 2
    text = "\n\n".join(parts)
    if len(text) > target * 1.5 + 40:
        text = text[: int(target * 1.5) + 40].rstrip()
    return text or "ok"


def make_title(rng: random.Random, subreddit: str) -> str:
    topic = topic_words(subreddit)
    vocab = _COMMON + topic
    n = max(2, min(45, int(rng.lognormvariate(math.log(9), 0.5))))
    words = rng.choices(vocab, k=n)
    words[0] = rng.choice(topic)
    if rng.random() < 0.1:
        words.append(rng.choice(_EMOJI))
    if rng.random() < 0.06:
        words.insert(1, rng.choice(_UNICODE))
    prefix = rng.choice(["", "", "", "[Question] ", "TIL ", "How do I ", "Why does ", "PSA: "])
    t = prefix + " ".join(words)
    t = t[:1].upper() + t[1:] + rng.choice(["?", "", "", ".", "!"])
    return t[:300]


_INLINE_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")


def _inline(text: str) -> str:
    t = html.escape(text, quote=True).replace("&#x27;", "&#39;")
    t = _INLINE_CODE.sub(r"<code>\1</code>", t)
    t = _BOLD.sub(r"<strong>\1</strong>", t)
    t = _LINK.sub(r'<a href="\2">\1</a>', t)
    return t


def markdown_html(text: str, *, self_post: bool = False) -> str:
    """A small subset of Reddit's markdown renderer, with its wrapper markup."""
    out: list[str] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        lines = block.split("\n")
        if all(line.startswith("    ") for line in lines):
            code = "\n".join(line[4:] for line in lines)
            out.append(f"<pre><code>{html.escape(code, quote=False)}\n</code></pre>")
        elif block.startswith("> "):
            out.append(f"<blockquote>\n<p>{_inline(block[2:])}</p>\n</blockquote>")
        elif all(line.startswith("* ") for line in lines):
            items = "\n".join(f"<li>{_inline(line[2:])}</li>" for line in lines)
            out.append(f"<ul>\n{items}\n</ul>")
        else:
            out.append("<p>" + _inline(block).replace("\n", "<br/>\n") + "</p>")
    inner = "\n\n".join(out)
    body = f'<div class="md">{inner}\n</div>'
    if self_post:
        return f"<!-- SC_OFF -->{body}<!-- SC_ON -->"
    return body


def slugify(title: str) -> str:
    """Reddit-like permalink slug: lowercase words, underscores, at most ~50 chars."""
    words = re.findall(r"[a-z0-9]+", title.lower())
    slug = ""
    for w in words:
        cand = f"{slug}_{w}" if slug else w
        if len(cand) > 50:
            break
        slug = cand
    return slug or "_"


def domain_for(rng: random.Random) -> str:
    return rng.choice(_DOMAINS)
