"""The synthetic Facebook export that bench/import_facebook.py imports: posts, albums, check-ins
and real JPEGs, written as Meta writes them (mojibake JSON, numbered posts files, one zip or two).

Deterministic for a given seed.  Kept apart from the benchmark so that the benchmark's own file
is the measuring and the report; see bench/README.md for the export's shape.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import import_files as common  # a sibling in bench/, which the benchmark puts on sys.path
from PIL import Image

MB = common.MB

POSTS_PER_FILE = 2500          # Meta splits the posts array over numbered files
PHOTO_POST_SHARE = 0.30        # posts with 1-4 photos
PHOTOS_PER_POST_WEIGHTS = (55, 22, 13, 10)  # 1, 2, 3, 4 photos: most photo posts hold one
ALBUM_ONLY_SHARE = 0.05        # photos that only an album names (no post)
LINK_SHARE = 0.12
PLACE_SHARE = 0.06
TAG_SHARE = 0.10
OWNER = "Jana Nováková"
# Posts end here and go back about ten years: fixed so that a seed always gives the same export.
NEWEST_POST = 1717236000       # 2024-06-01T10:00:00Z
HISTORY_S = 10 * 365 * 86400
ZIP_TIME = (2024, 6, 2, 8, 0, 0)

# (album name, media folder).  Folder names carry Czech letters, so the uris in the JSON are
# mojibake while the zip member names are real UTF-8 (docs/formats/facebook.md); an importer that forgets
# to fix the uri finds none of those photos.
ALBUMS = [
    ("Timeline photos", "TimelinePhotos_awR520Z08w"),
    ("Mobile uploads", "MobileUploads_LvJWqglAvA"),
    ("Fotky z časové osy", "Fotky_z_časové_osy_Ab12Cd"),
    ("Dovolená v Krkonoších 2019 🏔️", "Dovolená_v_Krkonoších_2019_Qw34Er"),
    ("Zahrada a kytičky 🌻", "Zahrada_a_kytičky_Zx56Cv"),
]
ALBUMS_WITH_JSON = (2, 3, 4)   # real exports have album files for named albums; some photos have none

WORDS = """
ráno večer odpoledne Praha Brno Olomouc léto zima jaro podzim dovolená výlet hory řeka kavárna
přátelé rodina děti babička dědeček pes kočka zahrada kytičky sníh déšť slunce vítr vlak kolo
procházka oběd večeře snídaně knížka hudba koncert pivo čaj káva dort narozeniny svatba škola
práce domů konečně včera dneska zítra krásný úžasný příjemný studený teplý dlouhý krátký malý
velký nový starý příliš žluťoučký kůň úpěl ďábelské ódy Šumava Krkonoše Sněžka Vltava most
přehrada náměstí hrad zámek les louka houby borůvky jahody rybník chata chalupa táborák
jsme byli jsem viděla upekla uvařila našli ztratili čekali šli jeli běželi spali smáli
a i ale že se na v ve do z za od po pro s u o k
""".split()
EMOJI = ["😀", "😂", "❤️", "👍", "🎉", "🌻", "🏔️", "☕", "🍺", "🚲", "🙈", "🥳",
         "👩\u200d👩\u200d👧", "👨\u200d👩\u200d👦", "🇨🇿", "🇸🇰"]   # ZWJ sequences and flags too
FRIENDS = ["Petr Dvořák", "Zdeněk Čížek", "Lucie Šťastná", "Tomáš Řehoř", "Eva Kučerová", "Sam Sample"]
PLACES = [  # name, lat, lon, address
    ("Kavárna Slavia", 50.0815, 14.4137, "Smetanovo nábřeží 2, Praha"),
    ("Sněžka", 50.7360, 15.7399, "Pec pod Sněžkou"),
    ("Pražský hrad", 50.0903, 14.4005, "Hradčany, Praha"),
    ("Brněnská přehrada", 49.2330, 16.5170, "Brno-Bystrc"),
    ("Hrad Karlštejn", 49.9394, 14.1883, "Karlštejn 172"),
    ("Lipno nad Vltavou", 48.6320, 14.2230, "Lipno nad Vltavou"),
    ("Český Krumlov", 48.8127, 14.3175, "Náměstí Svornosti 1, Český Krumlov"),
]
SITES = [("idnes.cz", "https://www.idnes.cz/zpravy/domaci/"), ("ceskatelevize.cz", "https://ct24.ceskatelevize.cz/clanek/"),
         ("youtube.com", "https://www.youtube.com/watch?v="), ("example.org", "https://example.org/článek/")]


def mojibake(value):
    """Every string's UTF-8 bytes as code points U+0000..U+00FF, as Meta writes them (docs/formats/facebook.md)."""
    if isinstance(value, str):
        return value.encode("utf-8").decode("latin-1")
    if isinstance(value, dict):
        return {k: mojibake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mojibake(v) for v in value]
    return value


def meta_json(value) -> bytes:
    # ensure_ascii turns every mojibake code point into its own \u00XX escape: pure ASCII, as Meta.
    return json.dumps(mojibake(value), indent=2).encode("ascii")


# --- the export -------------------------------------------------------------------------------


@dataclass
class PostPlan:
    timestamp: int
    photos: list[int] = field(default_factory=list)   # photo indices


@dataclass
class ExportStats:
    zips: list[Path]
    zip_bytes: int
    photo_bytes: int
    json_files: int
    json_bytes: int             # uncompressed
    photo_posts: int
    photo_refs: int
    unposted: int               # photos no post shows (an album or the media folder only)
    gen_s: float


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(4, 14))
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice(".!?")


def post_text(rng: random.Random) -> str:
    n = rng.randint(5, 10) if rng.random() < 0.05 else rng.randint(1, 3)  # now and then a long one
    text = " ".join(sentence(rng) for _ in range(n))
    if rng.random() < 0.4:
        text += " " + "".join(rng.choices(EMOJI, k=rng.randint(1, 3)))
    return text


def photo_folder(idx: int) -> tuple[int, str]:
    album = idx % len(ALBUMS)
    return album, ALBUMS[album][1]


def photo_uri(idx: int, album_ids: list[int]) -> str:
    _, folder = photo_folder(idx)
    # <digits>_<digits>_<digits>_n.jpg, like Meta's media names; the index keeps them unique.
    return (f"your_facebook_activity/posts/media/{folder}/"
            f"{album_ids[idx % len(album_ids)]}_{10158000000000000 + idx}_{1000000000000000000 + idx * 7919}_n.jpg")


def plan_posts(n_posts: int, n_photos: int, rng: random.Random
               ) -> tuple[list[PostPlan], list[int], dict[int, int]]:
    """Timestamps (newest first) and photos per post.

    Returns (posts, indices of photos no post shows, upload time of each photo a post shows).
    Photos go to posts one each first; only when the share of photo posts needs more references
    than there are photos does a later post show a photo again (as Facebook's "memories"
    reshares do), so a run with enough photos has no repeats.
    """
    gaps = [rng.randint(1, 2 * HISTORY_S // n_posts) for _ in range(n_posts)]
    posts, t = [], NEWEST_POST
    for gap in gaps:
        posts.append(PostPlan(t))
        t -= gap
    unposted = [i for i in range(n_photos) if photo_folder(i)[0] in ALBUMS_WITH_JSON
                and rng.random() < ALBUM_ONLY_SHARE * len(ALBUMS) / len(ALBUMS_WITH_JSON)]
    lonely = set(unposted)
    pool = [i for i in range(n_photos) if i not in lonely]
    photo_time: dict[int, int] = {}
    if not pool:
        return posts, unposted, photo_time
    rng.shuffle(pool)
    photo_posts = rng.sample(range(n_posts), round(n_posts * PHOTO_POST_SHARE))
    deal = 0
    # Oldest post first, so that a photo's upload time is that of the first post showing it.
    for p in sorted(photo_posts, reverse=True):
        for _ in range(rng.choices((1, 2, 3, 4), PHOTOS_PER_POST_WEIGHTS)[0]):
            idx = pool[deal] if deal < len(pool) else rng.choice(pool)
            deal += 1
            if idx not in posts[p].photos:
                posts[p].photos.append(idx)
                photo_time.setdefault(idx, posts[p].timestamp + 1)
    # Photos no post drew (more photos than references) still belong to the export: the media
    # folder holds them, and the importer takes such files too.
    unposted += pool[deal:]
    return posts, sorted(unposted), photo_time


def media_json(idx: int, created: int, album_ids: list[int], rng: random.Random, caption: str | None) -> dict:
    media = {"uri": photo_uri(idx, album_ids), "creation_timestamp": created,
             "media_metadata": {"photo_metadata": {"exif_data": [{
                 "upload_ip": f"185.62.{idx % 250}.{(idx * 7) % 250}",
                 "taken_timestamp": created - rng.randint(60, 86400),
                 "camera_make": "Apple", "camera_model": "iPhone 12 mini",
                 "iso": 100, "focal_length": "4.2", "exposure": "1/120", "f_stop": "1.8", "orientation": 1}]}},
             "title": ALBUMS[photo_folder(idx)[0]][0]}
    if caption is not None:
        media["description"] = caption
    return media


def post_json(i: int, plan: PostPlan, album_ids: list[int], rng: random.Random,
              photo_time: dict[int, int], checkins: list[dict]) -> dict:
    has_link = rng.random() < LINK_SHARE
    # A post with neither photos nor a link would not be a post without its text.
    text = post_text(rng) if (rng.random() < 0.85 or not (plan.photos or has_link)) else None
    post: dict = {"timestamp": plan.timestamp}
    data: list[dict] = []
    if text is not None:
        data.append({"post": text})
    if rng.random() < 0.05:
        data.append({"update_timestamp": plan.timestamp + rng.randint(60, 86400)})
    attached: list[dict] = []
    for idx in plan.photos:
        created = photo_time[idx]
        caption = text if (text is not None and rng.random() < 0.3) else None
        attached.append({"media": media_json(idx, created, album_ids, rng, caption)})
    title = f"{OWNER} updated her status."
    if plan.photos:
        title = f"{OWNER} added {len(plan.photos)} new photo{'s' if len(plan.photos) > 1 else ''}."
    if has_link:
        site, base = rng.choice(SITES)
        attached.append({"external_context": {"url": f"{base}{i}-výlet-na-sněžku?a=1&b={i}",
                                              "name": sentence(rng), "source": site}})
        title = title if plan.photos else f"{OWNER} shared a link."
    if rng.random() < PLACE_SHARE:
        name, lat, lon, address = rng.choice(PLACES)
        attached.append({"place": {"name": name, "coordinate": {"latitude": lat, "longitude": lon},
                                   "address": address, "url": "https://www.facebook.com/places/" + str(i)}})
        if rng.random() < 0.5:  # the check-ins file only enriches posts that are already there
            checkins.append({"timestamp": plan.timestamp, "fbid": str(100000 + i), "label_values": [
                {"label": "Message", "value": text or ""},
                {"label": "Place tags", "dict": [{"label": "Name", "value": name},
                                                 {"label": "Address", "value": address},
                                                 {"label": "Coordinates", "value": f"({lat} , {lon})"}]}]})
    if attached:
        post["attachments"] = [{"data": attached}]
    if data:
        post["data"] = data
    post["title"] = title
    if rng.random() < TAG_SHARE:
        post["tags"] = [{"name": n} for n in rng.sample(FRIENDS, rng.randint(1, 3))]
    return post


class PhotoMaker:
    """Distinct real JPEGs of about the asked size, cheaply.

    Encoding fresh noise per photo would be dominated by the random generator; crops of a few
    large noise buffers at random offsets, with the index's 24 bits stamped into as many black
    or white pixels, are incompressible (so nothing downstream gains from redundancy) and all
    different, at any size (three pixels of the index's bytes were merged by the encoder in
    photos of 2 kB: three pairs of 120,000 came out equal).
    """

    def __init__(self, mean_kb: int, rng: random.Random) -> None:
        self.rng = rng
        self.mean = mean_kb * 1000
        max_px = int(self.mean * 1.3 / common.BYTES_PER_PIXEL)
        self.base_w = int((max_px * 4 / 3) ** 0.5) + 64
        self.base_h = self.base_w * 3 // 4 + 64
        self.bases = [Image.frombytes("RGB", (self.base_w, self.base_h), rng.randbytes(self.base_w * self.base_h * 3))
                      for _ in range(4)]

    def make(self, idx: int) -> bytes:
        target = self.rng.uniform(0.7, 1.3) * self.mean   # sizes vary +-30% around the mean
        w = max(16, min(self.base_w, int((target / common.BYTES_PER_PIXEL * 4 / 3) ** 0.5)))
        h = max(12, min(self.base_h, w * 3 // 4))
        x, y = self.rng.randrange(self.base_w - w + 1), self.rng.randrange(self.base_h - h + 1)
        img = self.bases[idx % len(self.bases)].crop((x, y, x + w, y + h))
        for k in range(24):  # the index's bits, black or white: no quantization can merge two
            img.putpixel((k % w, k // w), (255, 255, 255) if idx >> k & 1 else (0, 0, 0))
        buf = io.BytesIO()
        # No EXIF: real exports strip it from the files (the JSON carries it instead).
        img.save(buf, "JPEG", quality=90)
        return buf.getvalue()


def zinfo(name: str, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.compress_type = compress
    info.external_attr = 0o644 << 16   # mode of a regular file, as zip tools on Unix store it
    return info


def make_export(out_dir: Path, n_posts: int, n_photos: int, photo_kb: int, parts: int,
                rng: random.Random) -> ExportStats:
    """Write the export as one zip or two (JSON + first half of the photos, then the rest).

    Only one photo and one posts file's worth of JSON are in memory at a time: photos are
    encoded and written one by one, so the export's size never matters to this process.
    """
    t0 = time.perf_counter()
    stem = "facebook-jananovakova-2024-06-02-aB3dE7fG"
    zips = [out_dir / (f"{stem}.zip" if parts == 1 else f"{stem}-part{k + 1}.zip") for k in range(parts)]
    album_ids = [rng.randrange(10**8, 10**9) for _ in ALBUMS]
    posts, unposted, photo_time = plan_posts(n_posts, n_photos, rng)
    checkins: list[dict] = []
    json_files = json_bytes = 0
    deflate = zipfile.ZIP_DEFLATED

    def put_json(zf: zipfile.ZipFile, name: str, value) -> None:
        nonlocal json_files, json_bytes
        data = meta_json(value)
        zf.writestr(zinfo(name, deflate), data, compresslevel=6)
        json_files += 1
        json_bytes += len(data)

    handles = [zipfile.ZipFile(z, "w", allowZip64=True) for z in zips]
    try:
        first = handles[0]
        put_json(first, "personal_information/profile_information/profile_information.json",
                 {"profile_v2": {"name": {"full_name": OWNER}, "username": "jana.novakova",
                                 "emails": {"emails": ["jana@example.org"]}, "registration_timestamp": 1262304000}})
        for f, start in enumerate(range(0, n_posts, POSTS_PER_FILE)):
            chunk = [post_json(start + j, plan, album_ids, rng, photo_time, checkins)
                     for j, plan in enumerate(posts[start:start + POSTS_PER_FILE])]
            put_json(first, f"your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_{f + 1}.json", chunk)
            del chunk
        # Album files name all photos of their album: those of posts (dedupe by uri) and the
        # album-only ones, which no post shows.
        for k, album in enumerate(ALBUMS_WITH_JSON):
            members = [i for i in range(n_photos) if photo_folder(i)[0] == album]
            for i in members:
                photo_time.setdefault(i, NEWEST_POST - rng.randrange(HISTORY_S))
            photos = [media_json(i, photo_time[i], album_ids, rng, None) for i in members]
            put_json(first, f"your_facebook_activity/posts/album/{k}.json", {
                "name": ALBUMS[album][0], "photos": photos, "cover_photo": photos[0] if photos else None,
                "last_modified_timestamp": max((photo_time[i] for i in members), default=NEWEST_POST),
                "description": f"Album {ALBUMS[album][0]}"})
        # A single check-in is an object, not a list: as Meta writes it.
        put_json(first, "your_facebook_activity/posts/check-ins.json", checkins[0] if len(checkins) == 1 else checkins)
        # Never posts; present because real exports have them.
        put_json(first, "your_facebook_activity/comments_and_reactions/comments.json", {"comments_v2": [
            {"timestamp": NEWEST_POST - 3600, "title": f"{OWNER} commented on Sam's post.",
             "data": [{"comment": {"timestamp": NEWEST_POST - 3600, "comment": "Krása! 😍", "author": OWNER}}]}]})
        log_every = max(1, n_photos // 10)
        maker = PhotoMaker(photo_kb, rng)
        photo_bytes = 0
        half = (n_photos + 1) // 2
        for idx in range(n_photos):
            data = maker.make(idx)
            target = handles[0] if parts == 1 or idx < half else handles[1]
            # The member name is the fixed uri: real UTF-8, where the JSON has its mojibake.
            target.writestr(zinfo(photo_uri(idx, album_ids), zipfile.ZIP_STORED), data)
            photo_bytes += len(data)
            if (idx + 1) % log_every == 0:
                common.log(f"  photos {idx + 1}/{n_photos} ({photo_bytes / MB:,.0f} MB, "
                           f"{time.perf_counter() - t0:.0f} s)")
    finally:
        for h in handles:
            h.close()
    photo_posts = sum(1 for p in posts if p.photos)
    return ExportStats(
        zips=zips, zip_bytes=sum(z.stat().st_size for z in zips), photo_bytes=photo_bytes,
        json_files=json_files, json_bytes=json_bytes, photo_posts=photo_posts,
        photo_refs=sum(len(p.photos) for p in posts), unposted=len(unposted),
        gen_s=time.perf_counter() - t0)


def make_newer(zips: list[Path], out_dir: Path, n_photos: int, photo_kb: int, rng: random.Random) -> list[Path]:
    """The next export: the same zips, the first one holding one more photo in a media folder.

    A copy of the first zip with the photo appended (posts files, albums and every other member
    byte for byte the same); the other parts are given as they are."""
    out_dir.mkdir()
    newer = out_dir / zips[0].name
    shutil.copyfile(zips[0], newer)
    with zipfile.ZipFile(newer, "a", allowZip64=True) as zf:
        name = f"your_facebook_activity/posts/media/{ALBUMS[0][1]}/{10**17 + n_photos}_{n_photos}_n.jpg"
        zf.writestr(zinfo(name, zipfile.ZIP_STORED), PhotoMaker(photo_kb, rng).make(n_photos))
    return [newer, *zips[1:]]
