"""Small synthetic X, Mastodon, LinkedIn and Bluesky exports, built at test time.

A fixture is a dict {path inside the export: bytes}; ``write_zip`` / ``write_tar`` put it on
disk.  Texts carry emoji, Czech diacritics, an escaped ``&amp;`` and a user-typed ``<script>``
so every importer's "decode exactly once, keep verbatim" rule is checked.

The Bluesky part holds a tiny DAG-CBOR *encoder* and CID maker (CIDv1, dag-cbor codec 0x71,
sha2-256), independent of the importer's decoder, to build real ``repo.car`` files: a signed-
looking commit, a two-level MST with prefix-compressed keys, and post / like / profile records.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import tarfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tests.support.builders import jpeg, mp4, write_zip  # noqa: F401  (re-exported for the tests)
from tests.support.builders import png as _png

CZECH = "Příliš žluťoučký kůň úpěl ďábelské ódy"
SCRIPT = "<script>alert(1)</script>"


def write_tar(path: Path, files: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    """A .tar.gz as Mastodon <= 4.1 wrote it (mode 0444 members); ``links`` adds symlink members."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o444
            info.mtime = 1700000000
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return path


# =============================================================================================
# X / Twitter (docs/formats/x.md)
# =============================================================================================

X_USER = "jana_novakova"
X_PHOTOS_ID = "1593902149044011015"    # 2 photos, a link, "&amp;"
X_SCRIPT_ID = "1600000000000000001"    # "<script>" escaped, Czech text
X_REPLY_ID = "1600000000000000002"     # reply to X_PHOTOS_ID
X_RT_ID = "1600000000000000003"        # retweet of @nasa, with the original's media
X_VIDEO_ID = "1600000000000000004"     # a video (part 1)
X_MISSING_ID = "1600000000000000005"   # a photo whose file is not in the archive (part 1)
X_LINK_URL = "https://example.cz/výlet?a=1&b=2"
X_PHOTOS_TEXT = f"Fotky z výletu 📸 & víc {X_LINK_URL}"
X_SCRIPT_TEXT = f"{SCRIPT} &amp; {CZECH}"
X_FILES = {  # archive file name -> bytes
    f"{X_PHOTOS_ID}-FhOtO1aB.jpg": jpeg((200, 10, 10)),
    f"{X_PHOTOS_ID}-FhOtO2cD.jpg": jpeg((10, 200, 10)),
    f"{X_VIDEO_ID}-XyZhigh.mp4": mp4(7),
}


def x_time(dt: datetime) -> str:
    """X's ``created_at`` format, written with fixed English names (not the test's locale)."""
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{days[dt.weekday()]} {months[dt.month - 1]} {dt.day:02d} {dt:%H:%M:%S} +0000 {dt.year}"


def x_photo(tweet_id: str, base: str, tco: str, n: int, source_status: str | None = None) -> dict:
    media = {
        "type": "photo", "id_str": f"99{n}", "id": f"99{n}", "indices": ["30", "53"],
        "media_url_https": f"https://pbs.twimg.com/media/{base}.jpg", "media_url": f"http://pbs.twimg.com/media/{base}.jpg",
        "url": tco, "display_url": "pic.x.com/abc",
        "expanded_url": f"https://x.com/{X_USER}/status/{source_status or tweet_id}/photo/{n}",
        "sizes": {"large": {"w": "4", "h": "3", "resize": "fit"}},
    }
    if source_status:
        media["source_status_id_str"] = source_status
    return media


def x_tweet(tweet_id: str, when: datetime, full_text: str, *, urls: list[tuple[str, str]] = (),
            media: list[dict] = (), reply_to: str | None = None, **extra: Any) -> dict:
    """A tweet as the archive holds it: every number a string, text HTML-escaped by the caller."""
    tweet: dict[str, Any] = {
        "edit_info": {"initial": {"editTweetIds": [tweet_id], "editableUntil": "2022-11-19T10:41:00.000Z",
                                  "editsRemaining": "5", "isEditEligible": True}},
        "retweeted": False, "source": "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
        "entities": {"hashtags": [], "symbols": [], "user_mentions": [],
                     "urls": [{"url": tco, "expanded_url": url, "display_url": url[8:30], "indices": ["0", "23"]}
                              for tco, url in urls]},
        "display_text_range": ["0", str(len(full_text))],
        "favorite_count": "2", "id_str": tweet_id, "truncated": False, "retweet_count": "0",
        "id": tweet_id, "created_at": x_time(when), "favorited": False, "full_text": full_text, "lang": "cs",
    }
    if media:
        tweet["entities"]["media"] = [media[0]]
        tweet["extended_entities"] = {"media": list(media)}
    if reply_to:
        tweet.update({"in_reply_to_status_id_str": reply_to, "in_reply_to_status_id": reply_to,
                      "in_reply_to_user_id_str": "123", "in_reply_to_screen_name": X_USER})
    tweet.update(extra)
    return tweet


def x_tweets() -> tuple[list[dict], list[dict]]:
    """(part 0, part 1) tweets of the fixture archive, newest first as X writes them."""
    utc = timezone.utc
    photos = x_tweet(
        X_PHOTOS_ID, datetime(2022, 11, 19, 9, 41, 0, tzinfo=utc),
        "Fotky z výletu 📸 &amp; víc https://t.co/AbCdEf1234 https://t.co/MeDiA00001",
        urls=[("https://t.co/AbCdEf1234", X_LINK_URL)],
        media=[x_photo(X_PHOTOS_ID, "FhOtO1aB", "https://t.co/MeDiA00001", 1),
               x_photo(X_PHOTOS_ID, "FhOtO2cD", "https://t.co/MeDiA00001", 2)])
    script = x_tweet(X_SCRIPT_ID, datetime(2022, 12, 1, 12, 0, 0, tzinfo=utc),
                     "&lt;script&gt;alert(1)&lt;/script&gt; &amp;amp; " + CZECH)
    reply = x_tweet(X_REPLY_ID, datetime(2022, 12, 2, 8, 30, 0, tzinfo=utc), "@jana_novakova Díky! 🙏",
                    reply_to=X_PHOTOS_ID)
    retweet = x_tweet(X_RT_ID, datetime(2022, 12, 3, 18, 5, 9, tzinfo=utc),
                      "RT @nasa: Hello from orbit &amp; beyond… https://t.co/OrBiT00001",
                      media=[x_photo("1500000000000000000", "NaSa01", "https://t.co/OrBiT00001", 1,
                                     source_status="1500000000000000000")])
    video = x_tweet(X_VIDEO_ID, datetime(2022, 12, 4, 7, 0, 0, tzinfo=utc), "Video z Krkonoš 🎥 https://t.co/ViDeO00001",
                    media=[{"type": "video", "id_str": "777", "url": "https://t.co/ViDeO00001",
                            "media_url_https": "https://pbs.twimg.com/ext_tw_video_thumb/777/pu/img/thumb.jpg",
                            "expanded_url": f"https://x.com/{X_USER}/status/{X_VIDEO_ID}/video/1",
                            "video_info": {"aspect_ratio": ["16", "9"], "variants": [
                                {"bitrate": "832000", "content_type": "video/mp4",
                                 "url": "https://video.twimg.com/ext_tw_video/777/pu/vid/640x360/XyZlow.mp4?tag=12"},
                                {"content_type": "application/x-mpegURL",
                                 "url": "https://video.twimg.com/ext_tw_video/777/pu/pl/XyZ.m3u8?tag=12"},
                                {"bitrate": "2176000", "content_type": "video/mp4",
                                 "url": "https://video.twimg.com/ext_tw_video/777/pu/vid/1280x720/XyZhigh.mp4?tag=12"},
                            ]}}])
    missing = x_tweet(X_MISSING_ID, datetime(2022, 12, 5, 7, 0, 0, tzinfo=utc), "Ztracená fotka https://t.co/GoNe000001",
                      media=[x_photo(X_MISSING_ID, "GoneGone", "https://t.co/GoNe000001", 1)])
    return [retweet, reply, script, photos], [missing, video]


def ytd(global_name: str, records: list) -> bytes:
    """A ``data/*.js`` file: ``window.YTD.<type>.partN = [...]`` (X writes no trailing ``;``)."""
    return f"window.{global_name} = {json.dumps(records, ensure_ascii=False, indent=2)}".encode("utf-8")


def x_manifest(files: list[tuple[str, str, int]], type_name: str = "tweets", media_dir: str = "data/tweets_media") -> bytes:
    config = {
        "userInfo": {"accountId": "123", "userName": X_USER, "displayName": "Jana Nováková"},
        "archiveInfo": {"sizeBytes": "1234", "generationDate": "2023-01-02T10:00:00.000Z", "isPartialArchive": False,
                        "maxPartSizeBytes": "53687091200"},
        "readmeInfo": {"fileName": "data/README.txt", "directory": "data/", "name": "README.txt"},
        "dataTypes": {
            type_name: {"mediaDirectory": media_dir,
                        "files": [{"fileName": f, "globalName": g, "count": str(c)} for f, g, c in files]},
            "like": {"files": [{"fileName": "data/like.js", "globalName": "YTD.like.part0", "count": "1"}]},
            "deletedTweets": {"mediaDirectory": "data/deleted_tweets_media",
                              "files": [{"fileName": "data/deleted-tweets.js", "globalName": "YTD.deleted_tweets.part0",
                                         "count": "1"}]},
        },
    }
    return ("window.__THAR_CONFIG = " + json.dumps(config, ensure_ascii=False, indent=2)).encode("utf-8")


def x_export(*, with_manifest: bool = True, wrapped: bool = True, media: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """The fixture archive (2022+ layout): tweets in two parts, media, likes, a DM, a deleted tweet."""
    part0, part1 = x_tweets()
    wrap = (lambda ts: [{"tweet": t} for t in ts]) if wrapped else (lambda ts: list(ts))
    files = {
        "Your archive.html": b"<!DOCTYPE html><html><body>archive viewer</body></html>",
        "assets/js/main.js": b"(function(){/* the archive viewer */})();",
        "data/tweets.js": ytd("YTD.tweets.part0", wrap(part0)),
        "data/tweets-part1.js": ytd("YTD.tweets.part1", wrap(part1)),
        "data/like.js": ytd("YTD.like.part0", [{"like": {"tweetId": "42", "fullText": "liked, not mine",
                                                          "expandedUrl": "https://x.com/i/web/status/42"}}]),
        "data/direct-messages.js": ytd("YTD.direct_messages.part0", [{"dmConversation": {
            "conversationId": "1-2", "messages": [{"messageCreate": {"id": "5", "text": "private message",
                                                                     "createdAt": "2022-01-27T15:58:52.744Z"}}]}}]),
        "data/deleted-tweets.js": ytd("YTD.deleted_tweets.part0", [{"tweet": x_tweet(
            "1600000000000000099", datetime(2022, 1, 1, tzinfo=timezone.utc), "deleted, not a post",
            deleted_at="Sat Jan 01 10:00:00 +0000 2022")}]),
    }
    if with_manifest:
        files["data/manifest.js"] = x_manifest([("data/tweets.js", "YTD.tweets.part0", len(part0)),
                                                ("data/tweets-part1.js", "YTD.tweets.part1", len(part1))])
    for name, data in (X_FILES if media is None else media).items():
        files[f"data/tweets_media/{name}"] = data
    return files


def x_export_2020() -> dict[str, bytes]:
    """A 2019-22 style archive: data/tweet.js (YTD.tweet.part0) without the {"tweet": ...} wrapper,
    media in data/tweet_media/, and no manifest."""
    part0, part1 = x_tweets()
    files = {"data/tweet.js": ytd("YTD.tweet.part0", part0 + part1)}
    for name, data in X_FILES.items():
        files[f"data/tweet_media/{name}"] = data
    return files


# =============================================================================================
# Mastodon (docs/formats/mastodon.md)
# =============================================================================================

M_ACTOR = "https://mastodon.social/users/jana"
M_FOLLOWERS = f"{M_ACTOR}/followers"
PUBLIC_IRI = "https://www.w3.org/ns/activitystreams#Public"
M_MEDIA = "media_attachments/files/109/000/000/000/000/001/original/4f1c2a.jpg"
M_MEDIA2 = "media_attachments/files/109/000/000/000/000/002/original/9b7e55.png"
M_MISSING = "media_attachments/files/109/000/000/000/000/003/original/gone.jpg"
M_LINK = "https://example.cz/článek?a=1&b=2"
M_PUBLIC_HTML = (
    "<p>Ahoj světe! 👋 &amp; &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    "<p>Druhý odstavec<br />nový řádek "
    "<a href=\"https://example.cz/%C4%8Dl%C3%A1nek?a=1&amp;b=2\" target=\"_blank\" rel=\"nofollow noopener noreferrer\">"
    "<span class=\"invisible\">https://</span><span class=\"ellipsis\">example.cz/článek?a=1&amp;b</span>"
    "<span class=\"invisible\">=2</span></a> "
    "<a href=\"https://mastodon.social/tags/praha\" class=\"mention hashtag\" rel=\"tag\">#<span>praha</span></a> "
    "<span class=\"h-card\"><a href=\"https://mastodon.social/@petr\" class=\"u-url mention\">@<span>petr</span></a></span></p>"
)
M_PUBLIC_TEXT = f"Ahoj světe! 👋 & {SCRIPT}\n\nDruhý odstavec\nnový řádek https://example.cz/článek?a=1&b=2 #praha @petr"


def m_status(n: int, when: str, content: str, *, to: list[str], cc: list[str] = (), summary: str | None = None,
             in_reply_to: str | None = None, attachments: list[dict] = ()) -> dict:
    sid = f"{M_ACTOR}/statuses/1100000000000000{n:02d}"
    note = {
        "id": sid, "type": "Note", "summary": summary, "inReplyTo": in_reply_to, "published": when,
        "url": f"https://mastodon.social/@jana/1100000000000000{n:02d}", "attributedTo": M_ACTOR,
        "to": list(to), "cc": list(cc), "sensitive": summary is not None,
        "atomUri": sid, "inReplyToAtomUri": in_reply_to, "conversation": f"tag:mastodon.social,2023:objectId={n}",
        "content": content, "contentMap": {"cs": content}, "attachment": list(attachments), "tag": [],
        "replies": {"id": f"{sid}/replies", "type": "Collection"},
    }
    return {"id": f"{sid}/activity", "type": "Create", "actor": M_ACTOR, "published": when,
            "to": list(to), "cc": list(cc), "object": note}


def m_attachment(url: str, name: str | None, media_type: str = "image/jpeg") -> dict:
    return {"type": "Document", "mediaType": media_type, "url": url, "name": name,
            "blurhash": "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH", "width": 4, "height": 3}


def m_statuses() -> list:
    """Activities, oldest first as Mastodon writes them."""
    return [
        m_status(1, "2023-03-01T10:00:00Z", M_PUBLIC_HTML, to=[PUBLIC_IRI], cc=[M_FOLLOWERS],
                 attachments=[m_attachment("/" + M_MEDIA, "Karlův most v mlze")]),
        m_status(2, "2023-03-02T11:00:00Z", "<p>Spoiler text</p>", to=[M_FOLLOWERS], cc=["as:Public"],
                 summary="CW: jídlo 🍝"),
        {"id": f"{M_ACTOR}/statuses/1100000000000000777/activity", "type": "Announce", "actor": M_ACTOR,
         "published": "2023-03-03T09:00:00Z", "to": [PUBLIC_IRI], "cc": [M_FOLLOWERS],
         "object": "https://other.example/users/bob/statuses/5"},
        m_status(3, "2023-03-04T12:00:00Z", "<p>Jen pro sledující</p>", to=[M_FOLLOWERS],
                 cc=["https://other.example/users/bob"], in_reply_to="https://other.example/users/bob/statuses/5"),
        m_status(4, "2023-03-05T13:00:00Z",
                 "<p><span class=\"h-card\"><a href=\"https://other.example/@bob\" class=\"u-url mention\">@<span>bob</span></a></span> psst</p>",
                 to=["https://other.example/users/bob"]),
        m_status(5, "2023-03-06T14:00:00Z", "<p>Obrázky</p>", to=["Public"],
                 attachments=[m_attachment(M_MEDIA2, None, "image/png"), m_attachment("/" + M_MISSING, "pryč")]),
    ]


def m_later_statuses() -> list:
    """What a later archive of the same account adds."""
    return [
        m_status(6, "2023-04-01T08:00:00Z", "<p>Nový příspěvek po exportu</p>", to=[PUBLIC_IRI]),
        m_status(7, "2023-04-02T08:00:00Z", "<p>A ještě jeden</p>", to=[PUBLIC_IRI],
                 in_reply_to=f"{M_ACTOR}/statuses/110000000000000006"),
    ]


def m_export(activities: list | None = None, media: dict[str, bytes] | None = None) -> dict[str, bytes]:
    activities = m_statuses() if activities is None else activities
    outbox = {
        "@context": ["https://www.w3.org/ns/activitystreams", {"ostatus": "http://ostatus.org#",
                                                                 "atomUri": "ostatus:atomUri"}],
        "id": "outbox.json", "type": "OrderedCollection", "totalItems": len(activities), "orderedItems": activities,
    }
    actor = {
        "@context": ["https://www.w3.org/ns/activitystreams"], "id": M_ACTOR, "type": "Person",
        "following": f"{M_ACTOR}/following", "followers": M_FOLLOWERS, "inbox": f"{M_ACTOR}/inbox",
        "outbox": "outbox.json", "preferredUsername": "jana", "name": "Jana Nováková",
        "icon": {"type": "Image", "mediaType": "image/png", "url": "avatar.png"},
    }
    likes = {"@context": "https://www.w3.org/ns/activitystreams", "id": "likes.json", "type": "OrderedCollection",
             "orderedItems": ["https://other.example/users/bob/statuses/9"]}
    files = {}
    # Mastodon's BackupService writes the media first, then outbox.json, likes, bookmarks, actor.
    for path, data in ({M_MEDIA: jpeg((1, 2, 3)), M_MEDIA2: png((4, 5, 6))} if media is None else media).items():
        files[path] = data
    files["outbox.json"] = json.dumps(outbox, ensure_ascii=False, indent=2).encode("utf-8")
    files["likes.json"] = json.dumps(likes).encode()
    files["bookmarks.json"] = json.dumps(dict(likes, id="bookmarks.json")).encode()
    files["actor.json"] = json.dumps(actor, ensure_ascii=False).encode("utf-8")
    files["avatar.png"] = png((9, 9, 9))
    return files


def png(color: tuple[int, int, int]) -> bytes:
    return _png(color, (5, 2))


# =============================================================================================
# LinkedIn (docs/formats/linkedin.md)
# =============================================================================================

LI_SHARE = "https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A70000000000000000{:02d}"
# Raw CSV exactly as LinkedIn writes it: BOM, CRLF rows, a quoted field with a newline and
# doubled quotes, empty commentary for bare reposts.
LI_SHARES_CSV = (
    "\ufeffDate,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility\r\n"
    f"2024-03-05 08:15:00,{LI_SHARE.format(1)},\"Nový článek o \"\"DevOps\"\" 🚀\n"
    "Druhý řádek &amp; <script>alert(1)</script>\",https://example.cz/devops,,PUBLIC\r\n"
    f"2024-03-04 17:00:00,{LI_SHARE.format(2)},,https://example.org/shared-article,,MEMBER_NETWORK\r\n"
    f"2024-03-03 09:30:00,{LI_SHARE.format(3)},,,,PUBLIC\r\n"
    f"2024-03-02 12:00:00,{LI_SHARE.format(4)},\"{CZECH}\",,https://media.licdn.com/dms/image/abc/photo.jpg,PUBLIC\r\n"
)
LI_TEXT_1 = "Nový článek o \"DevOps\" 🚀\nDruhý řádek &amp; <script>alert(1)</script>"


def li_export(name: str = "Shares.csv", csv_text: str = LI_SHARES_CSV) -> dict[str, bytes]:
    return {
        name: csv_text.encode("utf-8"),
        "Comments.csv": "Date,Link,Message\r\n2024-03-01 10:00:00,https://www.linkedin.com/x,\"a comment, not a post\"\r\n".encode(),
        "Connections.csv": ("Notes:\r\n\"When exporting your connection data...\"\r\n\r\n"
                            "First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n"
                            "Petr,Novák,https://www.linkedin.com/in/petr,,ACME,CTO,01 Mar 2024\r\n").encode(),
        "Profile.csv": "First Name,Last Name,Headline\r\nJana,Nováková,Engineer\r\n".encode(),
    }


# =============================================================================================
# Bluesky (docs/formats/bluesky.md): DAG-CBOR encoder, CIDs, MST and CAR writer
# =============================================================================================


@dataclass(frozen=True)
class Link:
    """A CID link in a DAG-CBOR value (encoded as tag 42)."""

    raw: bytes


def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    for info, fmt, limit in ((24, ">B", 1 << 8), (25, ">H", 1 << 16), (26, ">I", 1 << 32), (27, ">Q", 1 << 64)):
        if value < limit:
            return bytes([major << 5 | info]) + struct.pack(fmt, value)
    raise ValueError("integer too large")


def cbor(value: Any) -> bytes:
    """Canonical DAG-CBOR: shortest heads, map keys sorted by length then bytes, tag 42 links."""
    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _head(3, len(data)) + data
    if isinstance(value, Link):
        return b"\xd8\x2a" + cbor(b"\x00" + value.raw)
    if isinstance(value, (list, tuple)):
        return _head(4, len(value)) + b"".join(cbor(v) for v in value)
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return _head(5, len(keys)) + b"".join(cbor(k) + cbor(value[k]) for k in keys)
    raise TypeError(f"cannot encode {type(value).__name__}")


def cid_of(block: bytes) -> bytes:
    """CIDv1, dag-cbor (0x71), sha2-256 multihash."""
    return bytes([0x01, 0x71, 0x12, 0x20]) + hashlib.sha256(block).digest()


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def tid(when: datetime, clock: int = 7) -> str:
    """A TID record key: base32-sortable 53-bit microseconds + 10-bit clock id."""
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    number = (int(when.timestamp() * 1_000_000) << 10) | clock
    return "".join(alphabet[(number >> (5 * i)) & 31] for i in reversed(range(13)))


BSKY_DID = "did:plc:abc123xyz456jana"


@dataclass
class Repo:
    """A built repository: CAR bytes plus what the test needs to know about it."""

    car: bytes
    blocks: list[tuple[bytes, bytes]]   # (cid, block) in the order written
    root: bytes
    keys: list[str]


def mst_entries(items: list[tuple[str, bytes]]) -> list[dict]:
    """MST entries for sorted (key, value cid) pairs with prefix compression (no subtrees)."""
    out, previous = [], b""
    for key, value in items:
        kb = key.encode()
        prefix = 0
        while prefix < min(len(kb), len(previous)) and kb[prefix] == previous[prefix]:
            prefix += 1
        out.append({"p": prefix, "k": kb[prefix:], "v": Link(value), "t": None})
        previous = kb
    return out


def build_repo(records: dict[str, dict], *, did: str = BSKY_DID, order: str = "shuffled",
               extra_blocks: list[bytes] = (), duplicate: bool = True) -> Repo:
    """A ``repo.car`` holding ``records`` ({"<collection>/<rkey>": record}).

    The MST has two levels: a root node whose ``l`` subtree holds the first half of the keys and
    whose single entry (the middle key) has a ``t`` subtree with the rest, so the walk must follow
    ``l``, entries and ``t`` in order.  ``order`` "shuffled" writes the blocks records first, then
    MST nodes, then the commit (the reverse of the usual order), with ``extra_blocks`` (valid,
    unrelated) in between and the first record repeated; "commit-first" writes commit, nodes,
    then records (what a truncation test needs).
    """
    keys = sorted(records)
    record_blocks = {k: cbor(records[k]) for k in keys}
    cids = {k: cid_of(b) for k, b in record_blocks.items()}
    mid = len(keys) // 2
    left = {"l": None, "e": mst_entries([(k, cids[k]) for k in keys[:mid]])}
    right_keys = keys[mid + 1:]
    # The right subtree's keys are compressed against each other, not against the parent's key.
    right = {"l": None, "e": mst_entries([(k, cids[k]) for k in right_keys])}
    left_b, right_b = cbor(left), cbor(right)
    root_entry = mst_entries([(keys[mid], cids[keys[mid]])])[0]
    root_entry["t"] = Link(cid_of(right_b)) if right_keys else None
    root_node = {"l": Link(cid_of(left_b)) if keys[:mid] else None, "e": [root_entry]}
    root_b = cbor(root_node)
    commit = {"did": did, "version": 3, "data": Link(cid_of(root_b)), "rev": "3kabc2defg22x",
              "prev": None, "sig": b"\x01" * 64}
    commit_b = cbor(commit)
    nodes = [root_b] + ([left_b] if keys[:mid] else []) + ([right_b] if right_keys else [])
    recs = [record_blocks[k] for k in keys]
    if order == "shuffled":
        sequence = recs[::-1] + list(extra_blocks) + nodes[::-1] + [commit_b] + (recs[:1] if duplicate else [])
    else:
        sequence = [commit_b] + nodes + list(extra_blocks) + recs
    header = cbor({"roots": [Link(cid_of(commit_b))], "version": 1})
    out = bytearray(varint(len(header)) + header)
    written = []
    for block in sequence:
        cid = cid_of(block)
        out += varint(len(cid) + len(block)) + cid + block
        written.append((cid, block))
    return Repo(bytes(out), written, cid_of(commit_b), keys)


B_TEXT = "Ahoj z Bluesky 👋 &amp; <script>alert(1)</script>"   # stored verbatim: no decoding at all
B_LINK = "https://example.cz/článek"
B_EXTERNAL = "https://example.org/article"
B_QUOTED = "at://did:plc:other000000000000/app.bsky.feed.post/3kquotedpost2"


def b_time(day: int, hour: int = 10) -> datetime:
    return datetime(2024, 2, day, hour, 0, 0, tzinfo=timezone.utc)


def b_records() -> dict[str, dict]:
    """Post, reply, link + external embed, quote, image-only post, plus a like and a profile."""
    post = "app.bsky.feed.post"
    rk = {n: tid(b_time(n)) for n in range(1, 7)}
    text3 = f"Čtěte {B_LINK} 📖"
    start = len("Čtěte ".encode())
    return {
        f"{post}/{rk[1]}": {"$type": post, "text": B_TEXT, "createdAt": "2024-02-01T10:00:00.000Z", "langs": ["cs"]},
        f"{post}/{rk[2]}": {"$type": post, "text": "Odpověď 🙂", "createdAt": "2024-02-02T10:00:00.123456Z",
                            "reply": {"root": {"uri": f"at://{BSKY_DID}/{post}/{rk[1]}", "cid": "bafyroot"},
                                      "parent": {"uri": f"at://{BSKY_DID}/{post}/{rk[1]}", "cid": "bafyparent"}}},
        f"{post}/{rk[3]}": {"$type": post, "text": text3, "createdAt": "2024-02-03T10:00:00Z",
                            "facets": [{"index": {"byteStart": start, "byteEnd": start + len(B_LINK.encode())},
                                        "features": [{"$type": "app.bsky.richtext.facet#link", "uri": B_LINK}]},
                                       {"index": {"byteStart": 0, "byteEnd": 3},
                                        "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "x"}]}],
                            "embed": {"$type": "app.bsky.embed.external",
                                      "external": {"uri": B_EXTERNAL, "title": "Article", "description": ""}}},
        f"{post}/{rk[4]}": {"$type": post, "text": "Tohle citace 👇", "createdAt": "2024-02-04T10:00:00Z",
                            "embed": {"$type": "app.bsky.embed.record", "record": {"uri": B_QUOTED, "cid": "bafyq"}}},
        # No createdAt: the time comes from the TID record key.
        f"{post}/{rk[5]}": {"$type": post, "text": "",
                            "embed": {"$type": "app.bsky.embed.images", "images": [
                                {"alt": "Sněžka", "image": {"$type": "blob", "ref": Link(cid_of(b"img")),
                                                            "mimeType": "image/jpeg", "size": 1234}}]}},
        f"app.bsky.feed.like/{rk[6]}": {"$type": "app.bsky.feed.like", "createdAt": "2024-02-06T10:00:00Z",
                                        "subject": {"uri": B_QUOTED, "cid": "bafyq"}},
        "app.bsky.actor.profile/self": {"$type": "app.bsky.actor.profile", "displayName": "Jana"},
    }


def b_rkey(day: int) -> str:
    return tid(b_time(day))
