"""Small synthetic Facebook and Instagram exports, built at test time.

A fixture is a dict {path inside the export: bytes}.  JSON is written the way Meta writes it:
every UTF-8 byte of every string as its own \\u00XX escape (the mojibake of docs/formats/facebook.md).
``write_zip`` / ``write_dir`` put a fixture on disk, optionally under a wrapper folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.builders import jpeg, mp4, write_zip  # noqa: F401  (re-exported for the tests)

# ---------------------------------------------------------------------------------------------
# Encoding as Meta does
# ---------------------------------------------------------------------------------------------


def mojibake(value: Any) -> Any:
    """Every string's UTF-8 bytes as code points U+0000..U+00FF (what a JSON parser then yields)."""
    if isinstance(value, str):
        return value.encode("utf-8").decode("latin-1")
    if isinstance(value, dict):
        return {k: mojibake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mojibake(v) for v in value]
    return value


def meta_json(value: Any) -> bytes:
    """JSON exactly as Meta writes it: pure ASCII, one \\u00XX escape per UTF-8 byte."""
    return json.dumps(mojibake(value), indent=1).encode("ascii")


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def write_dir(path: Path, files: dict[str, bytes], wrapper: str | None = None) -> Path:
    base = path / wrapper if wrapper else path
    for name, data in files.items():
        target = base / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return path


def split(files: dict[str, bytes]) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(JSON and everything else, media files): how a two-part export divides."""
    media = {k: v for k, v in files.items() if k.endswith((".jpg", ".mp4"))}
    rest = {k: v for k, v in files.items() if k not in media}
    return rest, media


# ---------------------------------------------------------------------------------------------
# Facebook
# ---------------------------------------------------------------------------------------------

CZECH = "Příliš žluťoučký kůň úpěl ďábelské ódy"
FAMILY = "👩\u200d👩\u200d👧"   # an emoji ZWJ sequence
FLAG = "🇨🇿"                    # a flag: two regional indicators
MOJI_TEXT = f"{CZECH} {FAMILY} {FLAG}"
SCRIPT_TEXT = "<script>alert(1)</script> & <b>bold</b>"
TRIP_TEXT = "Výlet na Sněžku"
LINK_URL = "https://example.org/článek?a=1&b=2"
REMOTE_MEDIA = "https://scontent.xx.fbcdn.net/v/remote_123_n.jpg"
OWNER = "Jana Nováková"

# Timestamps (UTC) of the fixture's posts.
T_TEXT = 1686670245      # 2023-06-13T15:30:45Z
T_PHOTOS = 1686000000    # 2023-06-05T21:20:00Z
T_LINK = 1685000000      # 2023-05-25T07:33:20Z
T_VIDEO = 1684000000     # 2023-05-13T17:46:40Z
T_REMOTE = 1683000000    # 2023-05-02T04:00:00Z
T_PROFILE = 1682000000   # profile picture update: not a post
T_CHECKIN_ONLY = 1681000000

FB_ERAS = ("2018", "2020", "2022", "2024")
ALBUM_DIR = "Fotky_z_časové_osy_Ab12Cd"   # Czech in a media folder name: mojibake in the uris
MEDIA_FILES = {  # name -> (folder, file name, bytes)
    "photo_a": (ALBUM_DIR, "353101234_10160000000000001_1111111111111111111_n.jpg", jpeg((200, 10, 10))),
    "photo_b": (ALBUM_DIR, "353101234_10160000000000002_2222222222222222222_n.jpg", jpeg((10, 200, 10))),
    "album_only": (ALBUM_DIR, "353101234_10160000000000003_3333333333333333333_n.jpg", jpeg((10, 10, 200))),
    "uncategorized": ("Mobileuploads_LvJWqglAvA", "353101234_10160000000000004_4444444444444444444_n.jpg", jpeg((200, 200, 10))),
    "video": ("videos", "353101234_10160000000000005_5555555555555555555_n.mp4", mp4(5)),
    "unreferenced": ("Mobileuploads_LvJWqglAvA", "353101234_10160000000000006_6666666666666666666_n.jpg", jpeg((10, 200, 200))),
}


def fb_roots(era: str) -> tuple[str, str]:
    """(folder holding the posts JSON files, folder holding the media folders) for an era."""
    return {
        "2024": ("your_facebook_activity/posts", "your_facebook_activity/posts/media"),
        "2022": ("your_activity_across_facebook/posts", "your_activity_across_facebook/posts/media"),
        "2020": ("posts", "posts/media"),
        "2018": ("posts", "photos_and_videos"),
    }[era]


def fb_uri(era: str, key: str) -> str:
    folder, name, _ = MEDIA_FILES[key]
    return f"{fb_roots(era)[1]}/{folder}/{name}"


def fb_media(era: str, key: str, *, created: int, description: str | None = None, taken: int | None = None) -> dict:
    media: dict[str, Any] = {"uri": fb_uri(era, key), "creation_timestamp": created, "title": "Timeline photos"}
    if taken is not None:
        media["media_metadata"] = {"photo_metadata": {"exif_data": [{"taken_timestamp": taken, "camera_make": "Apple"}]}}
    if description is not None:
        media["description"] = description
    return media


def fb_posts(era: str) -> list[dict]:
    """The fixture's posts array, newest first, in the given era's uri layout."""
    return [
        {"timestamp": T_TEXT, "data": [{"post": MOJI_TEXT}, {"update_timestamp": T_TEXT + 60}],
         "title": f"{OWNER} updated her status.", "tags": [{"name": "Sam Sample"}, {"name": "Zdeněk Čížek"}]},
        {"timestamp": T_PHOTOS,
         "attachments": [{"data": [
             {"media": fb_media(era, "photo_a", created=T_PHOTOS + 1, description=TRIP_TEXT, taken=T_PHOTOS - 3600)},
             {"media": fb_media(era, "photo_b", created=T_PHOTOS + 2)},
             {"place": {"name": "Kavárna Slavia", "coordinate": {"latitude": 50.0815, "longitude": 14.4137},
                        "url": "https://www.facebook.com/slavia"}},
         ]}],
         "data": [{"post": TRIP_TEXT}], "title": f"{OWNER} added 2 new photos."},
        {"timestamp": T_LINK,
         "attachments": [{"data": [{"external_context": {"url": LINK_URL, "name": "Článek", "source": "example.org"}}]}],
         "data": [{"post": SCRIPT_TEXT}], "title": f"{OWNER} shared a link."},
        {"timestamp": T_VIDEO,
         "attachments": [{"data": [{"media": {
             "uri": fb_uri(era, "video"), "creation_timestamp": T_VIDEO + 5,
             "media_metadata": {"video_metadata": {"exif_data": [{"upload_timestamp": T_VIDEO + 5}]}},
             "thumbnail": {"uri": "https://scontent.xx.fbcdn.net/thumb.jpg"}, "title": "", "description": ""}}]}],
         "title": f"{OWNER} posted a video."},
        {"timestamp": T_REMOTE,
         "attachments": [{"data": [{"media": {"uri": REMOTE_MEDIA, "creation_timestamp": T_REMOTE}}]}],
         "data": [{"post": "remote picture"}]},
        {"timestamp": T_PROFILE, "data": [{"update_timestamp": T_PROFILE}],
         "title": f"{OWNER} updated her profile picture."},
    ]


def fb_export(era: str = "2024", *, split_posts: bool = False, checkins_single: bool = True) -> dict[str, bytes]:
    """A complete small Facebook export of one era: 5 posts, 6 media files, comments, messages."""
    posts_dir, _ = fb_roots(era)
    posts = fb_posts(era)
    files: dict[str, bytes] = {}
    if era == "2018":
        files[f"{posts_dir}/your_posts.json"] = meta_json({"status_updates": posts})
    else:
        name = "your_posts__check_ins__photos_and_videos" if era in ("2022", "2024") else "your_posts"
        if split_posts:
            # Two chunks of one array; the photo post is repeated in both (seen in real exports).
            files[f"{posts_dir}/{name}_1.json"] = meta_json(posts[:3])
            files[f"{posts_dir}/{name}_2.json"] = meta_json(posts[1:])
        else:
            files[f"{posts_dir}/{name}_1.json"] = meta_json(posts)
    album_home = "photos_and_videos" if era == "2018" else posts_dir
    files[f"{album_home}/album/0.json"] = meta_json({
        "name": "Fotky z časové osy",
        "photos": [fb_media(era, "photo_a", created=T_PHOTOS + 1),
                   fb_media(era, "album_only", created=T_PHOTOS - 86400, description="jen v albu")],
        "cover_photo": fb_media(era, "photo_a", created=T_PHOTOS + 1),
        "last_modified_timestamp": T_PHOTOS + 10,
    })
    files[f"{album_home}/your_uncategorized_photos.json"] = meta_json(
        {"other_photos_v2": [fb_media(era, "uncategorized", created=T_PHOTOS - 2 * 86400)]})
    files[f"{album_home}/your_videos.json"] = meta_json(
        {"videos_v2": [{"uri": fb_uri(era, "video"), "creation_timestamp": T_VIDEO + 5, "description": "video"}]})
    checkins = [
        {"timestamp": T_PHOTOS, "fbid": "101", "label_values": [
            {"label": "Message", "value": TRIP_TEXT},
            {"label": "Place tags", "dict": [{"label": "Name", "value": "Kavárna Slavia"},
                                             {"label": "Address", "value": "Smetanovo nábřeží 2, Praha"},
                                             {"label": "Coordinates", "value": "(50.0815 , 14.4137)"}]}]},
    ]
    if not checkins_single:
        checkins.append({"timestamp": T_CHECKIN_ONLY, "fbid": "102", "label_values": [
            {"label": "Message", "value": "a check-in that is not in the posts file"},
            {"label": "Place tags", "dict": [{"label": "Name", "value": "Nowhere"}]}]})
    if era != "2018":
        files[f"{posts_dir}/check-ins.json"] = meta_json(checkins[0] if checkins_single else checkins)
    # Things that are never posts.
    comments_home = {"2024": "your_facebook_activity/comments_and_reactions", "2022": "your_activity_across_facebook/comments_and_reactions",
                     "2020": "comments_and_reactions", "2018": "comments"}[era]
    files[f"{comments_home}/comments.json"] = meta_json({"comments_v2": [
        {"timestamp": T_TEXT + 100, "title": f"{OWNER} commented on Sam's post.",
         "data": [{"comment": {"timestamp": T_TEXT + 100, "comment": "zelenamandarinka comment", "author": OWNER}}]}]})
    msg_home = {"2024": "your_facebook_activity/messages", "2022": "your_activity_across_facebook/messages",
                "2020": "messages", "2018": "messages"}[era]
    files[f"{msg_home}/inbox/sam_abc123/message_1.json"] = meta_json({
        "participants": [{"name": "Sam Sample"}, {"name": OWNER}],
        "messages": [{"sender_name": "Sam Sample", "timestamp_ms": T_TEXT * 1000, "content": "modraborovice message"}],
        "title": "Sam Sample"})
    profile = "personal_information/profile_information/profile_information.json" if era in ("2022", "2024") \
        else "profile_information/profile_information.json"
    files[profile] = meta_json({"profile_v2": {"name": {"full_name": OWNER}, "username": "jana.novakova"}})
    for key in MEDIA_FILES:
        _, _, data = MEDIA_FILES[key]
        files[fb_uri(era, key)] = data
    return files


def fb_html_export() -> dict[str, bytes]:
    return {
        "start_here.html": b"<html><body><a href='your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.html'>Posts</a></body></html>",
        "your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.html":
            "<html><div class='_2pin'>Ahoj světe</div></html>".encode(),
        "your_facebook_activity/posts/media/Album_1/1_2_3_n.jpg": jpeg((1, 2, 3)),
    }


# ---------------------------------------------------------------------------------------------
# Instagram
# ---------------------------------------------------------------------------------------------

IG_SINGLE_CAPTION = f"Západ slunce nad Vltavou {FLAG} #praha"
IG_CAROUSEL_CAPTION = f"Víkend na horách {FAMILY}"
IG_VIDEO_CAPTION = "Video z koncertu 🎸"
IG_T_SINGLE = 1691862300     # 2023-08-12T17:45:00Z
IG_T_CAROUSEL = 1693562400   # 2023-09-01T10:00:00Z
IG_T_VIDEO = 1695000000      # 2023-09-18T01:20:00Z
IG_T_STORY = 1696000000

IG_MEDIA = {
    "single": ("media/posts/202308/17912345678901234.jpg", jpeg((250, 120, 0))),
    "car1": ("media/posts/202309/17900000000000001.jpg", jpeg((0, 120, 250))),
    "car2": ("media/posts/202309/17900000000000002.jpg", jpeg((120, 250, 0))),
    "car3": ("media/posts/202309/17900000000000003.jpg", jpeg((250, 0, 120))),
    "video": ("media/posts/202309/17900000000000004.mp4", mp4(9)),
    "extra": ("media/posts/202309/17900000000000005.jpg", jpeg((60, 60, 60))),   # referenced by nothing
    "story": ("media/stories/202309/17800000000000001.jpg", jpeg((90, 0, 90))),
}


def ig_posts() -> list[dict]:
    return [
        {"media": [{"uri": IG_MEDIA["video"][0], "creation_timestamp": IG_T_VIDEO, "title": IG_VIDEO_CAPTION,
                    "media_metadata": {"video_metadata": {"exif_data": [{"latitude": 50.0, "longitude": 14.0}]}}}]},
        {"media": [{"uri": IG_MEDIA["car1"][0], "creation_timestamp": IG_T_CAROUSEL, "title": ""},
                   {"uri": IG_MEDIA["car2"][0], "creation_timestamp": IG_T_CAROUSEL, "title": ""},
                   {"uri": IG_MEDIA["car3"][0], "creation_timestamp": IG_T_CAROUSEL,
                    "media_metadata": {"camera_metadata": {"has_camera_metadata": False}}, "title": ""}],
         "title": IG_CAROUSEL_CAPTION, "creation_timestamp": IG_T_CAROUSEL},
        {"media": [{"uri": IG_MEDIA["single"][0], "creation_timestamp": IG_T_SINGLE,
                    "media_metadata": {"photo_metadata": {"exif_data": [{"latitude": 50.08, "longitude": 14.42}]}},
                    "title": IG_SINGLE_CAPTION, "cross_post_source": {"source_app": "FB"}}]},
    ]


def ig_export(era: str = "2025") -> dict[str, bytes]:
    """A small Instagram export: 3 posts (single photo, carousel of 3, video), a story, 6 post media."""
    home = "your_instagram_activity/media" if era == "2025" else "content"
    files = {
        f"{home}/posts_1.json": meta_json(ig_posts()),
        f"{home}/stories.json": meta_json({"ig_stories": [
            {"uri": IG_MEDIA["story"][0], "creation_timestamp": IG_T_STORY, "title": "story text fialovykrokodyl"}]}),
    }
    profile = "personal_information/personal_information/personal_information.json" if era == "2025" \
        else "personal_information/personal_information.json"
    files[profile] = meta_json({"profile_user": [{"string_map_data": {"Username": {"value": "jana"}, "Name": {"value": OWNER}}}]})
    for path, data in IG_MEDIA.values():
        files[path] = data
    return files
