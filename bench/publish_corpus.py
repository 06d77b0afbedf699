"""The synthetic vault bench/publish.py publishes: posts spread over ten years, photos with real
entropy, and a stand-in importer that puts them into a vault through the real import pipeline."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

SOURCE = "mastodon"            # the importer name the injected records carry (any name works)
PHOTO_SIZE = (1200, 900)       # default; wider than two thumbnail widths (320, 640): each photo makes 3 files
PER_PAGE = 20

# Every generated record lies before this moment; the one post added for the incremental rebuild
# lies after it, so `vault mark --since` can select exactly that post without knowing its id.
HISTORY_END = datetime(2025, 1, 1, tzinfo=timezone.utc)
NEW_POST_AT = datetime(2025, 1, 2, 12, 0, tzinfo=timezone.utc)
HISTORY_YEARS = 10

WORDS = """
the a of and to in is was it for on with as at by from this that we our my your their not but
river morning light city train coffee garden market winter summer autumn spring bridge harbour
walk photo camera friend family evening quiet street window mountain lake forest road station
book music dinner bread rain snow wind sun cloud sky field village old new small long short
today yesterday finally again always never sometimes maybe really quite very little more most
found made took saw heard read wrote cooked baked visited missed remembered tried learned built
fixed painted planted watched waited started finished opened closed carried shared kept left
blue green golden grey bright dark warm cold soft loud slow fast early late first last every
""".split()


# --- the corpus -------------------------------------------------------------------------------


@dataclass
class PostSpec:
    source_id: str
    created_at: datetime
    text: str
    photo: int | None           # index of the photo it shows, or None


def make_text(rng: random.Random) -> str:
    """1-3 paragraphs of 2-5 sentences: about the size of a real social-media post or short note."""
    paras = []
    for _ in range(rng.randint(1, 3)):
        sentences = []
        for _ in range(rng.randint(2, 5)):
            words = rng.choices(WORDS, k=rng.randint(6, 14))
            sentences.append(" ".join(words).capitalize() + ".")
        paras.append(" ".join(sentences))
    return "\n\n".join(paras)


def make_posts(n_posts: int, n_photos: int, rng: random.Random) -> list[PostSpec]:
    """Posts spread evenly over HISTORY_YEARS before HISTORY_END; every 5th one shows a photo.

    With the defaults (10,000 posts, 2,000 photos) that is 20% of the posts and each photo is
    shown by exactly one post.  Photos beyond n_posts/5 are still published on their own pages.
    """
    span = timedelta(days=365 * HISTORY_YEARS).total_seconds()
    step = span / max(1, n_posts)
    start = HISTORY_END - timedelta(seconds=span)
    posts = []
    for i in range(n_posts):
        # Jitter within the slot keeps times distinct and ordered but not perfectly regular.
        at = start + timedelta(seconds=i * step + rng.uniform(0, step * 0.9))
        photo = (i // 5) % n_photos if (n_photos and i % 5 == 0) else None
        posts.append(PostSpec(f"bench-{i:06d}", at.replace(microsecond=0), make_text(rng), photo))
    return posts


def photo_times(posts: list[PostSpec], n_photos: int) -> list[datetime]:
    """A photo is taken a few minutes before the (first) post that shows it; unshown ones get
    the first post's time, so every record lies inside the history window."""
    times = [posts[0].created_at if posts else HISTORY_END - timedelta(days=1)] * n_photos
    seen: set[int] = set()
    for p in posts:
        if p.photo is not None and p.photo not in seen:
            seen.add(p.photo)
            times[p.photo] = p.created_at - timedelta(minutes=7)
    return times


def make_photos(folder: Path, n: int, rng: random.Random, size: tuple[int, int] = PHOTO_SIZE) -> int:
    """Write n distinct JPEGs of ``size``; return the total bytes.

    Pure noise would make ~1 MB files and be slow to generate; pure gradients compress to almost
    nothing, which would flatter the re-encode.  A mix -- a colour gradient re-tinted per photo
    through a lookup table, plus a noise patch cropped from one shared noise buffer at a random
    place -- gives ~100 kB files with real entropy at a few ms each.
    """
    from PIL import Image

    folder.mkdir(parents=True)
    w, h = size
    grad_v = Image.linear_gradient("L").resize((w, h))
    grad_r = Image.radial_gradient("L").resize((w, h))
    grad_h = grad_v.transpose(Image.Transpose.ROTATE_90).resize((w, h))
    bases = [Image.merge("RGB", chans) for chans in
             ((grad_v, grad_r, grad_h), (grad_h, grad_v, grad_r), (grad_r, grad_h, grad_v))]
    pw, ph = w // 4, h // 4
    noise = Image.frombytes("RGB", (pw * 3, ph * 3), rng.randbytes(pw * 3 * ph * 3 * 3))
    total = 0
    for i in range(n):
        lut = []
        for _ in range(3):  # a per-channel affine tint: every photo has its own colours
            a, b = rng.uniform(0.4, 1.0), rng.randrange(0, 100)
            lut += [min(255, int(v * a) + b) for v in range(256)]
        img = bases[i % len(bases)].point(lut)
        nx, ny = rng.randrange(pw * 2), rng.randrange(ph * 2)
        img.paste(noise.crop((nx, ny, nx + pw, ny + ph)), (rng.randrange(w - pw), rng.randrange(h - ph)))
        # The index in the first pixels too: no two files can share their bytes.
        img.putpixel((0, 0), (i & 0xFF, (i >> 8) & 0xFF, (i >> 16) & 0xFF))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=88)
        data = buf.getvalue()
        (folder / f"photo-{i:05d}.jpg").write_bytes(data)
        total += len(data)
    return total


class BenchImporter:
    """What `run_items` needs of an importer: a name (the records' source) and a version."""

    name = SOURCE
    version = "bench"
    description = "synthetic posts and photos for bench/publish.py"


def inject(vdir: Path, ident: Path, photos_dir: Path, n_photos: int, posts: list[PostSpec], label: str) -> dict:
    """Put photos and posts into the vault through the real pipeline, in this process.

    Items are yielded lazily so that at most one photo's bytes are in memory at a time.  Photos
    come first: a post's media_refs are resolved through refs recorded for the same source.
    """
    from vault.importing.pipeline import run_items
    from vault.models import MediaItem, PostItem
    from vault.repository import open_vault

    times = photo_times(posts, n_photos) if n_photos else []

    def items():
        for i in range(n_photos):
            path = photos_dir / f"photo-{i:05d}.jpg"
            yield MediaItem(ref=path.name, open=lambda p=path: open(p, "rb"), size=path.stat().st_size,
                            filename=path.name, created_at=times[i], caption=f"Photo {i}")
        for p in posts:
            refs = [f"photo-{p.photo:05d}.jpg"] if p.photo is not None else []
            yield PostItem(source_id=p.source_id, created_at=p.created_at, text=p.text, media_refs=refs)

    with open_vault(vdir, exclusive=True) as v:
        v.unlock(ident)
        report = run_items(v, BenchImporter(), items(), label=label)
    return {"added": dict(report.added), "unchanged": dict(report.unchanged)}
