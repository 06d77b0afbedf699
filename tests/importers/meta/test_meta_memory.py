"""What the Meta importers keep per file of an export: album files read as streams, one tree per
export source, and the media catalog sharing the member names the source holds.

An export of a hundred thousand photos must not cost memory in proportion to the size of one
JSON file parsed whole, nor keep two copies of every file name."""

from __future__ import annotations

import gc
import json
import tracemalloc

from tests.support.meta_fixtures import meta_json, write_zip

ALBUM = "your_facebook_activity/posts/album/0.json"
MEDIA = "your_facebook_activity/posts/media/Fotky_z_časové_osy_Ab12Cd"


def _photo(n: int) -> dict:
    return {"uri": f"{MEDIA}/{n}_10158_n.jpg", "creation_timestamp": 1_600_000_000 + n,
            "description": f"fotka číslo {n} z výletu na Sněžku",
            "media_metadata": {"photo_metadata": {"exif_data": [{"taken_timestamp": 1_500_000_000 + n}]}}}


def _collections(path, files: dict[str, bytes]):
    """The media catalog and the problems that reading the export's collection files gives."""
    from importers.meta.facebook import _catalog_collections
    from importers.meta.mediacatalog import MediaCatalog
    from importers.meta.reader import Tree
    from vault.importing.archive import ExportSource

    with ExportSource([write_zip(path, files)]) as src:
        tree = Tree(src)
        catalog = MediaCatalog(tree)
        problems = list(_catalog_collections(tree, catalog))
    return catalog, problems


def test_a_big_album_file_is_read_as_a_stream(tmp_path):
    """Parsed whole, a 4 MB album file takes about 30 MB at once; read as a stream, what reading
    it takes beyond what the catalog keeps is a few chunks."""
    from importers.meta.facebook import _catalog_collections
    from importers.meta.mediacatalog import MediaCatalog
    from importers.meta.reader import Tree
    from vault.importing.archive import ExportSource

    n = 12_000
    album = {"name": "Fotky z časové osy", "photos": [_photo(i) for i in range(n)],
             "cover_photo": _photo(0), "last_modified_timestamp": 1_700_000_000, "description": "x"}
    data = json.dumps(album).encode()  # plain UTF-8, no escapes: the file is as small as it gets
    assert len(data) > 3_000_000
    with ExportSource([write_zip(tmp_path / "fb.zip", {ALBUM: data})]) as src:
        tree = Tree(src)
        catalog = MediaCatalog(tree)
        tracemalloc.start()
        try:
            problems = list(_catalog_collections(tree, catalog))
            kept, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert problems == [] and len(catalog.info) == n
    assert catalog[f"{MEDIA}/7_10158_n.jpg"]["caption"] == "fotka číslo 7 z výletu na Sněžku"
    assert peak - kept < 2_000_000, (peak, kept)  # json.loads of the file: over 25 MB


def test_collection_files_of_every_shape(tmp_path):
    """An album, a list of albums (with their cover photos), a *_v2 list and a single media
    object are read as before; a truncated album keeps the photos before the damage."""
    files = {
        ALBUM: meta_json({"name": "A", "photos": [_photo(1), _photo(2)], "cover_photo": _photo(3)}),
        "your_facebook_activity/posts/album/1.json": meta_json([{"name": "B", "photos": [_photo(4)],
                                                                 "cover_photo": _photo(5)}]),
        "your_facebook_activity/posts/your_uncategorized_photos.json": meta_json({"other_photos_v2": [_photo(6)]}),
        "your_facebook_activity/posts/your_videos.json": meta_json(_photo(7)),
        "your_facebook_activity/posts/album/2.json": meta_json({"photos": [_photo(8), _photo(9)]})[:-40],
    }
    catalog, problems = _collections(tmp_path / "fb.zip", files)
    numbers = sorted(int(uri.rsplit("/", 1)[1].split("_")[0]) for uri in catalog)
    # An album file's cover photo is one of its photos; only a list of albums names it apart.
    assert numbers == [1, 2, 4, 5, 6, 7, 8]
    # (the rel: one top-level folder holds everything, so it counts as the zip's wrapper)
    assert [p.path for p in problems] == ["posts/album/2.json"]
    assert "invalid JSON" in problems[0].reason
    info = catalog[f"{MEDIA}/5_10158_n.jpg"]
    assert info["member"] == "posts/album/1.json"
    assert info["created_at"].timestamp() == 1_600_000_005 and info["taken_at"].timestamp() == 1_500_000_005


def test_one_tree_per_source_sharing_the_member_names(tmp_path):
    from importers.meta.facebook import FacebookImporter
    from importers.meta.reader import _TREES, Tree
    from vault.importing.archive import ExportSource

    files = {ALBUM: meta_json({"photos": [_photo(1)]}), f"{MEDIA}/1_10158_n.jpg": b"\xff\xd8\xff\xd9"}
    wrapped = {f"facebook-jana-2024/{name}": data for name, data in files.items()}
    for zip_files in (files, wrapped):
        src = ExportSource([write_zip(tmp_path / "fb.zip", zip_files)])
        tree = Tree.of(src)
        assert Tree.of(src) is tree and FacebookImporter().recognize(src) == 70
        assert Tree.of(ExportSource([tmp_path / "fb.zip"])) is not tree
        for path, entry in tree.entries:  # the canonical path is the entry's own string
            assert path is entry.path or path is entry.rel
        photo = tree.lookup(f"{MEDIA}/1_10158_n.jpg")
        assert photo is not None and tree.shared(f"{MEDIA}/1_10158_n.jpg") is tree.entries[1][0]
        src.close()
        del src, tree, photo
        gc.collect()
        assert len(_TREES) == 0  # the cache keeps no source alive


def test_the_catalog_keeps_the_member_names_and_merges_what_is_unknown(tmp_path):
    import pytest

    from importers.meta.mediacatalog import MediaCatalog
    from importers.meta.reader import Tree
    from vault.importing.archive import ExportSource

    uri = f"{MEDIA}/1_10158_n.jpg"
    with ExportSource([write_zip(tmp_path / "fb.zip", {uri: b"\xff\xd8\xff\xd9"})]) as src:
        tree = Tree(src)
        catalog = MediaCatalog(tree)
        catalog.add("".join(uri), {"creation_timestamp": 5}, "posts_1.json")  # an equal, new string
        catalog.add(uri, {"creation_timestamp": 9, "description": "later"}, "album/0.json")
        catalog.add(f"{MEDIA}/missing.jpg", {}, "posts_1.json", caption="")
        key = next(iter(catalog))
        assert key is src.entries[0].path
        info = catalog[uri]
        assert (info["created_at"].timestamp(), info["caption"], info["member"]) == (5, "later", "posts_1.json")
        info["caption"] = None
        assert info.caption is None and repr(catalog[f"{MEDIA}/missing.jpg"]) == (
            "MediaInfo(created_at=None, taken_at=None, caption='', member='posts_1.json')")
        with pytest.raises(KeyError):
            info["title"]
