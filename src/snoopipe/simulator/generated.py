"""A deterministic, lazily generated Reddit that evolves with (virtual) time.

Every item is a pure function of ``(seed, subreddit, index)`` and of ``now``:

- post ``k`` of a subreddit is created at ``anchor + k * interval + jitter`` and
  exists once ``created_utc <= now``; a listing from ``now`` backwards computes the
  indices directly, so nothing is materialised beyond what is served;
- post ids are ``base36(36**7 + P(slot << 26 | k))`` and comment ids
  ``base36(36**9 + Q(post << 9 | j))`` with keyed bijections P and Q: unique,
  decodable, 8 and 10 characters, and not ordered by time. A subreddit's ``slot`` is
  its name's hash among 32,768 slots, so a subreddit has the same ids in every
  simulator that serves it, whichever other subreddits that one serves (two runs of
  `snoopipe run -s a` and `-s b` must not hand out the same post ids: the load would
  take them for one post). Two names share a slot with odds of 1 in 32,768; one
  simulator then moves the later name (in sorted order) to the next free slot;
- comment ``j`` of a post appears at the post's creation plus increasing
  offsets, so ``num_comments`` grows; scores and ratios follow the item's age;
- a few items are deleted or removed some time after creation, edited, stickied,
  distinguished, NSFW, link posts, flaired.
"""

from __future__ import annotations

import bisect
import functools
import math
import random
import re
import threading
from dataclasses import dataclass
from typing import Any

from snoopipe.simulator import textgen
from snoopipe.simulator.corpus import LISTING_CAP, TIME_FILTERS, Corpus, ListingSeq, ListSeq
from snoopipe.simulator.ids import (
    KeyedPermutation,
    from_base36,
    hash_ints,
    hash_str,
    mix64,
    to_base36,
)
from snoopipe.simulator.trees import Forest

ANCHOR_EPOCH = 1577836800  # 2020-01-01T00:00:00Z
DEFAULT_SUBREDDITS = ["python", "dataengineering", "datascience"]

# Post ids have 8 base36 characters (41 bits of code), comment ids 10 (50 bits): room
# for a slot per subreddit name (SUB_BITS) and 2**26 posts of each (K_BITS).
SUB_BITS = 15
K_BITS = 26
J_BITS = 9
POST_BITS = SUB_BITS + K_BITS
COMMENT_BITS = POST_BITS + J_BITS
SLOTS = 1 << SUB_BITS
MAX_SUBREDDITS = 64  # served by one simulator
MAX_POSTS_PER_SUB = 1 << K_BITS
MAX_COMMENTS_PER_POST = (1 << J_BITS) - 1
POST_ID_OFFSET = 36 ** 7
COMMENT_ID_OFFSET = 36 ** 9
POST_ID_CHARS = 8
COMMENT_ID_CHARS = 10
MAX_DEPTH_GENERATED = 14
RANKED_CANDIDATES = 2500  # hot/top/rising rank at most this many of the newest posts

_ADJ = ("quiet brave sleepy happy lazy clever rusty silent cosmic tiny grumpy jolly swift "
        "fuzzy hidden lucky noisy odd proud salty spicy wise").split()
_NOUN = ("otter panda falcon badger walrus koala lemur heron moose gecko tapir yak llama "
         "beaver marmot puffin squid newt ferret bison").split()
_FLAIRS = ["Discussion", "Help", "Showcase", "News", "Question", "Resource", "Meta",
           "Tutorial", "Career", "Meme"]
_FLAIR_COLORS = ["#ff4500", "#0079d3", "#46d160", "#ffb000", "#7193ff", ""]


@dataclass(frozen=True)
class _Sub:
    name: str
    lower: str
    slot: int
    h: int
    subreddit_id: str
    subscribers: int


@dataclass(frozen=True)
class _PostSkel:
    sub: _Sub
    k: int
    id: str
    created: int
    final_score: float
    tau: float
    ratio_base: float
    n_comments: int
    kind: str  # self | link | image
    author: int
    deleted_at: float
    delete_kind: str  # "deleted" | "removed" | ""
    edited_at: float
    stickied: bool
    distinguished: str | None
    over_18: bool
    spoiler: bool
    locked: bool
    flair: int  # -1 none


@dataclass(frozen=True)
class _CommentSkel:
    created: list[int]
    parent: list[int]      # -1 for top-level
    depth: list[int]
    final: list[float]
    tau: list[float]
    deleted_at: list[float]
    delete_kind: list[str]
    edited_at: list[float]
    author: list[int]      # -1 = the post's author (OP)
    distinguished: list[bool]
    controversial: list[bool]


_VALID_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{1,20}")


class GeneratedCorpus(Corpus):
    """Posts and comments generated on demand from ``seed``; see the module docstring.

    ``subreddits`` defaults to ``["python", "dataengineering", "datascience"]`` (at most
    64); ``posts_per_hour`` is per subreddit (0 < rate <= 3600).
    """

    kind = "generated"

    def __init__(self, seed: int = 7, subreddits: list[str] | None = None,
                 posts_per_hour: float = 12, *, anchor_epoch: int = ANCHOR_EPOCH) -> None:
        if not 0 < posts_per_hour <= 3600:
            raise ValueError("posts_per_hour must be in (0, 3600]")
        names = list(dict.fromkeys(subreddits or DEFAULT_SUBREDDITS))
        if len({n.lower() for n in names}) != len(names):
            raise ValueError("subreddit names must be unique (case-insensitively)")
        if len(names) > MAX_SUBREDDITS:
            raise ValueError(f"at most {MAX_SUBREDDITS} subreddits")
        self.seed = int(seed)
        self.posts_per_hour = float(posts_per_hour)
        self.interval = 3600.0 / self.posts_per_hour
        self._jitter_span = max(1, int(self.interval) - 1)
        self.anchor = int(anchor_epoch)
        self._post_perm = KeyedPermutation(POST_BITS, hash_ints(self.seed, 0xB05))
        self._comment_perm = KeyedPermutation(COMMENT_BITS, hash_ints(self.seed, 0xC0E))
        self._subs: dict[str, _Sub] = {}
        self._by_slot: dict[int, _Sub] = {}
        self._add_lock = threading.Lock()
        for name in sorted(names, key=str.lower):  # a shared slot goes to the first name
            self._add(name)
        self.subreddits = names
        self._post_skel = functools.lru_cache(maxsize=50_000)(self._make_post_skel)
        self._post_static = functools.lru_cache(maxsize=8192)(self._make_post_static)
        self._comment_skel = functools.lru_cache(maxsize=4096)(self._make_comment_skel)
        self._comment_times = functools.lru_cache(maxsize=65536)(self._make_comment_times)
        self._comment_ids = functools.lru_cache(maxsize=4096)(self._make_comment_ids)
        self._comment_static = functools.lru_cache(maxsize=65536)(self._make_comment_static)
        self._author = functools.lru_cache(maxsize=65536)(self._make_author)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "seed": self.seed, "subreddits": self.subreddits,
                "posts_per_hour": self.posts_per_hour}

    # -- ids ---------------------------------------------------------------------------

    def post_id(self, slot: int, k: int) -> str:
        return to_base36(POST_ID_OFFSET + self._post_perm.forward((slot << K_BITS) | k))

    def comment_id(self, slot: int, k: int, j: int) -> str:
        code = (((slot << K_BITS) | k) << J_BITS) | j
        return to_base36(COMMENT_ID_OFFSET + self._comment_perm.forward(code))

    def _decode_post(self, post_id: str) -> tuple[_Sub, int] | None:
        n = from_base36(post_id)
        if n is None or len(post_id) != POST_ID_CHARS:
            return None
        n -= POST_ID_OFFSET
        if not 0 <= n < (1 << POST_BITS):
            return None
        code = self._post_perm.inverse(n)
        sub = self._by_slot.get(code >> K_BITS)
        if sub is None:
            return None
        return sub, code & (MAX_POSTS_PER_SUB - 1)

    def _decode_comment(self, comment_id: str) -> tuple[_Sub, int, int] | None:
        n = from_base36(comment_id)
        if n is None or len(comment_id) != COMMENT_ID_CHARS:
            return None
        n -= COMMENT_ID_OFFSET
        if not 0 <= n < (1 << COMMENT_BITS):
            return None
        code = self._comment_perm.inverse(n)
        j = code & ((1 << J_BITS) - 1)
        post = code >> J_BITS
        sub = self._by_slot.get(post >> K_BITS)
        if sub is None:
            return None
        return sub, post & (MAX_POSTS_PER_SUB - 1), j

    # -- time grid ------------------------------------------------------------------------

    def created_at(self, sub: _Sub, k: int) -> int:
        jitter = mix64(hash_ints(self.seed, 0x717, sub.h) ^ k) % self._jitter_span
        return self.anchor + int(math.floor(k * self.interval)) + jitter

    def newest_index(self, sub: _Sub, now: float) -> int:
        """Index of the newest post with created_utc <= now (-1 when none)."""
        k = int(math.floor((now - self.anchor) / self.interval))
        if k < 0:
            return -1
        k = min(k, MAX_POSTS_PER_SUB - 1)
        while k >= 0 and self.created_at(sub, k) > now:
            k -= 1
        return k

    # -- skeletons -------------------------------------------------------------------------

    def _make_post_skel(self, slot: int, k: int) -> _PostSkel:
        sub = self._by_slot[slot]
        rng = random.Random(hash_ints(self.seed, 1, sub.h, k))
        created = self.created_at(sub, k)
        if rng.random() < 0.04:
            final = -rng.lognormvariate(math.log(6), 0.8)
            ratio = 0.15 + 0.3 * rng.random()
        else:
            final = min(150_000.0, rng.lognormvariate(math.log(14), 1.7))
            ratio = 0.55 + 0.44 * math.sqrt(rng.random())
        tau = rng.lognormvariate(math.log(4 * 3600), 0.5)
        u = rng.random()
        if u < 0.30:
            n_comments = rng.randint(0, 3)
        elif u < 0.78:
            n_comments = rng.randint(4, 20)
        elif u < 0.95:
            n_comments = rng.randint(21, 100)
        else:
            n_comments = rng.randint(101, 300)
        n_comments = min(n_comments, MAX_COMMENTS_PER_POST)
        r = rng.random()
        kind = "self" if r < 0.62 else ("link" if r < 0.86 else "image")
        author = rng.randrange(40_000)
        r = rng.random()
        delay = rng.lognormvariate(math.log(8 * 3600), 1.2)
        if r < 0.03:
            deleted_at, delete_kind = created + 60 + delay, "deleted"
        elif r < 0.05:
            deleted_at, delete_kind = created + 60 + delay, "removed"
        else:
            deleted_at, delete_kind = math.inf, ""
        edited_at = (created + 30 + rng.lognormvariate(math.log(3600), 1.0)
                     if rng.random() < 0.05 else math.inf)
        r = rng.random()
        stickied = r < 0.004
        distinguished = "moderator" if (stickied or r > 0.995) else None
        over_18 = rng.random() < 0.015
        spoiler = rng.random() < 0.005
        locked = rng.random() < 0.01
        flair = rng.randrange(len(_FLAIRS)) if rng.random() < 0.55 else -1
        return _PostSkel(sub=sub, k=k, id=self.post_id(slot, k), created=created, final_score=final,
                         tau=tau, ratio_base=ratio, n_comments=n_comments, kind=kind, author=author,
                         deleted_at=deleted_at, delete_kind=delete_kind, edited_at=edited_at,
                         stickied=stickied, distinguished=distinguished, over_18=over_18,
                         spoiler=spoiler, locked=locked, flair=flair)

    def _make_comment_skel(self, slot: int, k: int) -> _CommentSkel:
        ps = self._post_skel(slot, k)
        rng = random.Random(hash_ints(self.seed, 2, ps.sub.h, k))
        n = ps.n_comments
        created = self._comment_times(slot, k)
        parent: list[int] = []
        depth: list[int] = []
        final: list[float] = []
        tau: list[float] = []
        deleted_at: list[float] = []
        delete_kind: list[str] = []
        edited_at: list[float] = []
        author: list[int] = []
        distinguished: list[bool] = []
        controversial: list[bool] = []
        for j in range(n):
            r = rng.random()
            p = -1
            if j > 0 and r >= 0.38:
                p = j - 1 if r < 0.66 else rng.randrange(j)
                if depth[p] + 1 > MAX_DEPTH_GENERATED:
                    p = -1
            parent.append(p)
            depth.append(0 if p < 0 else depth[p] + 1)
            contro = rng.random() < 0.06
            controversial.append(contro)
            if contro:
                final.append(-rng.lognormvariate(math.log(4), 0.9))
            else:
                boost = (1.8 if p < 0 else 1.0) * (1.0 + 4.0 * math.exp(-j / 15.0))
                final.append(min(50_000.0, boost * rng.lognormvariate(math.log(2.5), 1.3)))
            tau.append(rng.lognormvariate(math.log(3 * 3600), 0.6))
            r = rng.random()
            delay = rng.lognormvariate(math.log(6 * 3600), 1.3)
            if r < 0.03:
                deleted_at.append(created[j] + 30 + delay)
                delete_kind.append("deleted")
            elif r < 0.05:
                deleted_at.append(created[j] + 30 + delay)
                delete_kind.append("removed")
            else:
                deleted_at.append(math.inf)
                delete_kind.append("")
            edited_at.append(created[j] + 20 + rng.lognormvariate(math.log(900), 1.2)
                             if rng.random() < 0.05 else math.inf)
            author.append(-1 if rng.random() < 0.07 else rng.randrange(40_000))
            distinguished.append(rng.random() < 0.005)
        return _CommentSkel(created, parent, depth, final, tau, deleted_at, delete_kind,
                            edited_at, author, distinguished, controversial)

    def _make_comment_times(self, slot: int, k: int) -> list[int]:
        """Creation times of a post's comments (strictly increasing), from their own RNG
        stream so that ``num_comments`` is cheap to compute."""
        ps = self._post_skel(slot, k)
        rng = random.Random(hash_ints(self.seed, 5, ps.sub.h, k))
        offsets = sorted(int(20 + rng.lognormvariate(math.log(2.5 * 3600), 1.4))
                         for _ in range(ps.n_comments))
        created: list[int] = []
        last = ps.created
        for off in offsets:
            t = max(ps.created + min(off, 90 * 86400), last + 1)
            created.append(t)
            last = t
        return created

    def _make_comment_ids(self, slot: int, k: int) -> list[str]:
        n = self._post_skel(slot, k).n_comments
        return [self.comment_id(slot, k, j) for j in range(n)]

    def _make_author(self, idx: int) -> tuple[str, str]:
        h = hash_ints(self.seed, 0xA07, idx)
        style = h % 4
        a, b, num = _ADJ[(h >> 8) % len(_ADJ)], _NOUN[(h >> 16) % len(_NOUN)], (h >> 24) % 10000
        if style == 0:
            name = f"{a.capitalize()}_{b.capitalize()}_{num}"
        elif style == 1:
            name = f"{a}{b}{num % 100}"
        elif style == 2:
            name = f"{b}-{a}-{num}"
        else:
            name = f"{a.capitalize()}{b.capitalize()}"
        return name[:20], "t2_" + to_base36(36 ** 5 + (h >> 20) % (36 ** 6))

    # -- static content ----------------------------------------------------------------

    def _make_post_static(self, slot: int, k: int) -> dict[str, Any]:
        ps = self._post_skel(slot, k)
        sub = ps.sub
        rng = random.Random(hash_ints(self.seed, 4, sub.h, k))
        title = textgen.make_title(rng, sub.name)
        slug = textgen.slugify(title)
        permalink = f"/r/{sub.name}/comments/{ps.id}/{slug}/"
        author, author_fullname = self._author(ps.author)
        selftext = ""
        selftext_html = None
        url = "https://www.reddit.com" + permalink
        domain = f"self.{sub.name}"
        thumbnail, th_w, th_h = "self", None, None
        post_hint = "self"
        preview = None
        extra: dict[str, Any] = {}
        if ps.kind == "self":
            if rng.random() < 0.9:
                selftext = textgen.make_text(rng, sub.name,
                                             textgen.lognormal_length(rng, 450, 1.2, 30000))
                selftext_html = textgen.markdown_html(selftext, self_post=True)
        elif ps.kind == "link":
            domain = textgen.domain_for(rng)
            slug = textgen.slugify(title).replace("_", "-")
            url = f"https://{domain}/{slug}-{rng.randrange(10**6)}"
            thumbnail, th_w, th_h, post_hint = "default", 140, 78, "link"
            extra["url_overridden_by_dest"] = url
        else:
            media = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=13))
            domain, url = "i.redd.it", f"https://i.redd.it/{media}.jpeg"
            w, h = rng.choice([(1080, 1350), (1920, 1080), (1200, 1200), (828, 1792)])
            thumbnail = f"https://b.thumbs.redditmedia.com/{media}.jpg"
            th_w, th_h, post_hint = 140, int(140 * h / w), "image"
            image = f"https://preview.redd.it/{media}.jpeg"
            preview = {"images": [{"source": {"url": f"{image}?auto=webp&s=0",
                                              "width": w, "height": h},
                                   "resolutions": [{"url": f"{image}?width=108&crop=smart"
                                                           "&auto=webp&s=0",
                                                    "width": 108, "height": int(108 * h / w)}],
                                   "variants": {}, "id": media}],
                       "enabled": True}
            extra["url_overridden_by_dest"] = url
        if ps.over_18:
            thumbnail = "nsfw"
        flair_text = _FLAIRS[ps.flair] if ps.flair >= 0 else None
        flair_rich = rng.random() < 0.3 if flair_text else False
        author_flair = (("Pythonista" if rng.random() < 0.5 else "Data Engineer")
                        if rng.random() < 0.12 else None)
        return {
            "title": title, "permalink": permalink, "author": author,
            "author_fullname": author_fullname, "selftext": selftext,
            "selftext_html": selftext_html, "url": url, "domain": domain, "thumbnail": thumbnail,
            "thumbnail_width": th_w, "thumbnail_height": th_h, "post_hint": post_hint,
            "preview": preview, "extra": extra, "flair_text": flair_text, "flair_rich": flair_rich,
            "flair_color": _FLAIR_COLORS[ps.flair % len(_FLAIR_COLORS)] if flair_text else "",
            "author_flair": author_flair, "author_premium": rng.random() < 0.05,
            "num_crossposts": 0 if rng.random() < 0.93 else rng.randint(1, 4),
            "is_original_content": rng.random() < 0.02,
        }

    def _make_comment_static(self, slot: int, k: int, j: int) -> dict[str, Any]:
        ps = self._post_skel(slot, k)
        cs = self._comment_skel(slot, k)
        rng = random.Random(hash_ints(self.seed, 3, ps.sub.h, k, j))
        body = textgen.make_text(rng, ps.sub.name, textgen.lognormal_length(rng, 110, 1.15, 9000))
        if cs.author[j] < 0:
            author, author_fullname = self._author(ps.author)
        else:
            author, author_fullname = self._author(cs.author[j])
        return {"body": body, "body_html": textgen.markdown_html(body), "author": author,
                "author_fullname": author_fullname,
                "author_flair": "Moderator" if cs.distinguished[j] else None}

    # -- dynamic views -------------------------------------------------------------------

    @staticmethod
    def _grow(final: float, tau: float, age: float) -> int:
        g = 1.0 - math.exp(-max(age, 0.0) / tau)
        return 1 + int(final * g) if final >= 0 else 1 + int(math.floor(final * g))

    def _post_score(self, ps: _PostSkel, now: float) -> int:
        return self._grow(ps.final_score, ps.tau, now - ps.created)

    def _visible_comments(self, slot: int, k: int, now: float) -> int:
        ps = self._post_skel(slot, k)
        if ps.n_comments == 0 or now < ps.created:
            return 0
        return bisect.bisect_right(self._comment_times(slot, k), now)

    def _post_data(self, slot: int, k: int, now: float) -> dict[str, Any]:
        ps = self._post_skel(slot, k)
        st = self._post_static(slot, k)
        sub = ps.sub
        age = now - ps.created
        score = self._post_score(ps, now)
        ratio = round(min(1.0, ps.ratio_base
                          + (1 - ps.ratio_base) * 0.5 * math.exp(-age / ps.tau)), 2)
        deleted = now >= ps.deleted_at
        dkind = ps.delete_kind if deleted else ""
        author = st["author"]
        selftext, selftext_html = st["selftext"], st["selftext_html"]
        if dkind == "deleted":
            author = "[deleted]"
            if ps.kind == "self":
                selftext = "[deleted]"
                selftext_html = textgen.markdown_html(selftext, self_post=True)
        elif dkind == "removed" and ps.kind == "self":
            selftext = "[removed]"
            selftext_html = textgen.markdown_html(selftext, self_post=True)
        flair_text = st["flair_text"]
        d: dict[str, Any] = {
            "approved_at_utc": None,
            "subreddit": sub.name,
            "selftext": selftext,
            "author_fullname": st["author_fullname"],
            "saved": False,
            "mod_reason_title": None,
            "gilded": 0,
            "clicked": False,
            "title": st["title"],
            "link_flair_richtext": ([{"e": "text", "t": flair_text}] if st["flair_rich"] else []),
            "subreddit_name_prefixed": f"r/{sub.name}",
            "hidden": False,
            "pwls": 6,
            "link_flair_css_class": flair_text.lower() if flair_text else None,
            "downs": 0,
            "thumbnail_height": st["thumbnail_height"],
            "top_awarded_type": None,
            "hide_score": age < 3600,
            "name": f"t3_{ps.id}",
            "quarantine": False,
            "link_flair_text_color": "dark" if flair_text else None,
            "upvote_ratio": ratio,
            "author_flair_background_color": "" if st["author_flair"] else None,
            "subreddit_type": "public",
            "ups": score,
            "total_awards_received": 0,
            "media_embed": {},
            "thumbnail_width": st["thumbnail_width"],
            "author_flair_template_id": None,
            "is_original_content": st["is_original_content"],
            "user_reports": [],
            "secure_media": None,
            "is_reddit_media_domain": ps.kind == "image",
            "is_meta": False,
            "category": None,
            "secure_media_embed": {},
            "link_flair_text": flair_text,
            "can_mod_post": False,
            "score": score,
            "approved_by": None,
            "is_created_from_ads_ui": False,
            "author_premium": st["author_premium"],
            "thumbnail": st["thumbnail"],
            "edited": float(ps.edited_at) if now >= ps.edited_at else False,
            "author_flair_css_class": None,
            "author_flair_richtext": [],
            "gildings": {},
            "post_hint": st["post_hint"],
            "content_categories": None,
            "is_self": ps.kind == "self",
            "mod_note": None,
            "created": float(ps.created),
            "link_flair_type": "richtext" if st["flair_rich"] else "text",
            "wls": 6,
            "removed_by_category": {"deleted": "deleted", "removed": "moderator"}.get(dkind),
            "banned_by": None,
            "author_flair_type": "text",
            "domain": st["domain"],
            "allow_live_comments": False,
            "selftext_html": selftext_html,
            "likes": None,
            "suggested_sort": None,
            "banned_at_utc": None,
            "view_count": None,
            "archived": age > 180 * 86400,
            "no_follow": score < 2 or bool(dkind),
            "is_crosspostable": not dkind,
            "pinned": False,
            "over_18": ps.over_18,
            "all_awardings": [],
            "awarders": [],
            "media_only": False,
            "can_gild": False,
            "spoiler": ps.spoiler,
            "locked": ps.locked,
            "author_flair_text": None if dkind == "deleted" else st["author_flair"],
            "treatment_tags": [],
            "visited": False,
            "removed_by": None,
            "num_reports": None,
            "distinguished": ps.distinguished,
            "subreddit_id": sub.subreddit_id,
            "author_is_blocked": False,
            "mod_reason_by": None,
            "removal_reason": None,
            "link_flair_background_color": st["flair_color"],
            "id": ps.id,
            "is_robot_indexable": not dkind,
            "report_reasons": None,
            "author": author,
            "discussion_type": None,
            "num_comments": self._visible_comments(slot, k, now),
            "send_replies": True,
            "contest_mode": False,
            "mod_reports": [],
            "author_patreon_flair": False,
            "author_flair_text_color": "dark" if st["author_flair"] else None,
            "permalink": st["permalink"],
            "stickied": ps.stickied,
            "url": st["url"],
            "subreddit_subscribers": sub.subscribers,
            "created_utc": float(ps.created),
            "num_crossposts": st["num_crossposts"],
            "media": None,
            "is_video": False,
        }
        if st["preview"] is not None:
            d["preview"] = st["preview"]
        if flair_text:
            d["link_flair_template_id"] = (f"{hash_ints(sub.h, ps.flair) & 0xFFFFFFFF:08x}-"
                                           f"{sub.slot:04x}-11ee-8000-0242ac120002")
        d.update(st["extra"])
        if dkind == "deleted":
            del d["author_fullname"]
        return d

    def _comment_data(self, slot: int, k: int, j: int, now: float) -> dict[str, Any]:
        ps = self._post_skel(slot, k)
        cs = self._comment_skel(slot, k)
        st = self._comment_static(slot, k, j)
        cid = self._comment_ids(slot, k)[j]
        created = cs.created[j]
        age = now - created
        score = self._grow(cs.final[j], cs.tau[j], age)
        dkind = cs.delete_kind[j] if now >= cs.deleted_at[j] else ""
        author, body, body_html = st["author"], st["body"], st["body_html"]
        if dkind:
            author = "[deleted]"
            body = "[deleted]" if dkind == "deleted" else "[removed]"
            body_html = textgen.markdown_html(body)
        p = cs.parent[j]
        parent_id = f"t3_{ps.id}" if p < 0 else "t1_" + self._comment_ids(slot, k)[p]
        is_op = cs.author[j] < 0 and not dkind
        flair = None if dkind else st["author_flair"]
        d: dict[str, Any] = {
            "subreddit_id": ps.sub.subreddit_id,
            "approved_at_utc": None,
            "author_is_blocked": False,
            "comment_type": None,
            "awarders": [],
            "mod_reason_by": None,
            "banned_by": None,
            "author_flair_type": "text",
            "total_awards_received": 0,
            "subreddit": ps.sub.name,
            "author_flair_template_id": None,
            "likes": None,
            "replies": "",
            "user_reports": [],
            "saved": False,
            "id": cid,
            "banned_at_utc": None,
            "mod_reason_title": None,
            "gilded": 0,
            "archived": age > 180 * 86400,
            "collapsed_reason_code": "DELETED" if dkind else None,
            "no_follow": score < 2,
            "author": author,
            "can_mod_post": False,
            "created_utc": float(created),
            "send_replies": True,
            "parent_id": parent_id,
            "score": score,
            "author_fullname": st["author_fullname"],
            "approved_by": None,
            "mod_note": None,
            "all_awardings": [],
            "collapsed": bool(dkind) or score < -4,
            "body": body,
            "edited": float(cs.edited_at[j]) if now >= cs.edited_at[j] else False,
            "top_awarded_type": None,
            "author_flair_css_class": None,
            "name": f"t1_{cid}",
            "is_submitter": is_op,
            "downs": 0,
            "author_flair_richtext": [],
            "author_patreon_flair": False,
            "body_html": body_html,
            "removal_reason": None,
            "collapsed_reason": ("comment score below threshold"
                                 if (score < -4 and not dkind) else None),
            "distinguished": "moderator" if cs.distinguished[j] and not dkind else None,
            "associated_award": None,
            "stickied": False,
            "author_premium": False,
            "can_gild": not dkind,
            "gildings": {},
            "unrepliable_reason": None,
            "author_flair_text_color": "dark" if flair else None,
            "score_hidden": age < 1800,
            "permalink": f"{self._post_static(slot, k)['permalink']}{cid}/",
            "subreddit_type": "public",
            "locked": ps.locked,
            "report_reasons": None,
            "created": float(created),
            "author_flair_text": flair,
            "treatment_tags": [],
            "link_id": f"t3_{ps.id}",
            "subreddit_name_prefixed": f"r/{ps.sub.name}",
            "controversiality": 1 if cs.controversial[j] and age > 3600 else 0,
            "depth": cs.depth[j],
            "author_flair_background_color": "" if flair else None,
            "collapsed_because_crowd_control": None,
            "mod_reports": [],
            "num_reports": None,
            "ups": score,
        }
        if dkind:
            del d["author_fullname"]
        return d

    # -- Corpus interface ----------------------------------------------------------------

    def _add(self, name: str) -> _Sub:
        lower = name.lower()
        h = hash_str(lower)
        slot = h % SLOTS  # the name alone decides it (see the module docstring)
        while slot in self._by_slot:
            slot = (slot + 1) % SLOTS
        sub = _Sub(name=name, lower=lower, slot=slot, h=h,
                   subreddit_id="t5_" + to_base36(36 ** 4 + h % (36 ** 5)),
                   subscribers=int(2000 + (h >> 8) % 1_500_000))
        self._subs[lower] = sub
        self._by_slot[slot] = sub
        return sub

    def add_subreddits(self, names: list[str]) -> None:
        """Serve these subreddits too (sorted, so the same names get the same slots and
        ids whatever order they are asked in). Names already served keep theirs."""
        with self._add_lock:
            for name in sorted(names, key=str.lower):
                if name.lower() in self._subs or not _VALID_NAME.fullmatch(name):
                    continue
                if len(self._subs) >= MAX_SUBREDDITS:
                    return
                self._add(name)
                self.subreddits.append(name)

    def subreddit_known(self, name: str) -> bool:
        """Any valid subreddit name is served (added on first use, up to 64 names), so
        the README's examples work offline with any `-s NAME`."""
        if name.lower() not in self._subs:
            self.add_subreddits([name])
        return name.lower() in self._subs

    def listing(self, name: str, sort: str, time_filter: str, now: float) -> ListingSeq:
        sub = self._subs[name.lower()]
        k_max = self.newest_index(sub, now)
        if sort == "new":
            return _NewSeq(self, sub, k_max, now)
        window = TIME_FILTERS.get(time_filter, TIME_FILTERS["day"]) if sort == "top" else (
            86400.0 if sort == "rising" else math.inf)
        cands: list[tuple[float, int, int]] = []
        k = k_max
        while k >= 0 and len(cands) < RANKED_CANDIDATES:
            ps = self._post_skel(sub.slot, k)
            if now - ps.created > window:
                break
            score = self._post_score(ps, now)
            key: float
            if sort == "top":
                key = -score
            elif sort == "rising":
                key = -score / ((max(now - ps.created, 0) / 3600 + 2) ** 1.5)
            else:  # hot, Reddit's formula
                s = math.log10(max(abs(score), 1)) * (1 if score > 0 else -1 if score < 0 else 0)
                key = -(s + (ps.created - 1134028003) / 45000)
            cands.append((key, -k, k))
            k -= 1
        cands.sort()
        # post id -> index, in rank order; every candidate exists at `now` (k <= k_max)
        ranked = {self._post_skel(sub.slot, kk).id: kk for _, _, kk in cands[:LISTING_CAP]}
        return ListSeq(list(ranked), lambda chunk: [self._post_data(sub.slot, ranked[pid], now)
                                                    for pid in chunk])

    def post(self, post_id: str, now: float) -> dict[str, Any] | None:
        dec = self._decode_post(post_id)
        if dec is None:
            return None
        sub, k = dec
        if k > self.newest_index(sub, now):
            return None
        return self._post_data(sub.slot, k, now)

    def forest(self, post_id: str, now: float) -> Forest | None:
        dec = self._decode_post(post_id)
        if dec is None:
            return None
        sub, k = dec
        if k > self.newest_index(sub, now):
            return None
        slot = sub.slot
        m = self._visible_comments(slot, k, now)
        cs = self._comment_skel(slot, k)
        ids = self._comment_ids(slot, k)[:m]
        link = f"t3_{self._post_skel(slot, k).id}"
        index = {cid: j for j, cid in enumerate(ids)}
        parent_of = {cid: (link if cs.parent[j] < 0 else "t1_" + ids[cs.parent[j]])
                     for j, cid in enumerate(ids)}

        def metrics(cid: str) -> tuple[float, int, int, int]:
            j = index[cid]
            score = self._grow(cs.final[j], cs.tau[j], now - cs.created[j])
            ups = max(score, 0) + (int(abs(cs.final[j]) * 0.3) if cs.controversial[j] else 0)
            downs = max(0, ups - score)
            return float(cs.created[j]), score, ups, downs

        return Forest(link, ids, parent_of, metrics,
                      lambda cid: self._comment_data(slot, k, index[cid], now))

    def thing(self, fullname: str, now: float) -> dict[str, Any] | None:
        if fullname.startswith("t3_"):
            return self.post(fullname[3:], now)
        if fullname.startswith("t1_"):
            dec = self._decode_comment(fullname[3:])
            if dec is None:
                return None
            sub, k, j = dec
            if k > self.newest_index(sub, now) or j >= self._visible_comments(sub.slot, k, now):
                return None
            return self._comment_data(sub.slot, k, j, now)
        return None


class _NewSeq(ListingSeq):
    """``/new``: position p is post k_max - p, computed, never materialised."""

    def __init__(self, corpus: GeneratedCorpus, sub: _Sub, k_max: int, now: float) -> None:
        self.c, self.sub, self.k_max, self.now = corpus, sub, k_max, now

    def __len__(self) -> int:
        return min(self.k_max + 1, LISTING_CAP)

    def fullname(self, pos: int) -> str:
        return "t3_" + self.c.post_id(self.sub.slot, self.k_max - pos)

    def position(self, fullname: str) -> int | None:
        if not fullname.startswith("t3_"):
            return None
        dec = self.c._decode_post(fullname[3:])
        if dec is None or dec[0] is not self.sub:
            return None
        p = self.k_max - dec[1]
        return p if 0 <= p < len(self) else None

    def things(self, start: int, end: int) -> list[dict[str, Any]]:
        return [self.c._post_data(self.sub.slot, self.k_max - p, self.now)
                for p in range(start, end)]
