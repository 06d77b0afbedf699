"""`vault list` lines: a post without text of its own is listed by the best line it has."""

from __future__ import annotations

from tests.support.builders import jpeg
from tests.support.post_fixtures import inject, media_item, post


def test_a_post_with_only_an_activity_line_lists_by_it(vault_env):
    inject(vault_env.path, [media_item("v.jpg", jpeg()),
                            post("v1", 2, None, media_refs=["v.jpg"], extra={"activity": "Jana posted a video."}),
                            post("t1", 3, "Words of her own", extra={"activity": "Jana updated her status."})],
           source="facebook")
    res = vault_env.run("list")
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert any(line.endswith("post   Jana posted a video. [1 media]") for line in lines), lines
    assert any("Words of her own" in line and "updated her status" not in line for line in lines), lines
