"""Real exports written by other people, imported through the real CLI.

The samples live under tests/real/<source>/<sample>/, each with an ORIGIN.md naming the public
repository, path, commit and licence it was taken from.  Every expected value below was counted and copied by
hand from the raw files, not taken from the importer's output.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.env import DATA

REAL = DATA / "real"


def sample(*parts: str) -> Path:
    path = REAL.joinpath(*parts)
    assert path.exists(), f"real sample {path.relative_to(REAL.parent)} is missing"
    assert (path.parent / "ORIGIN.md").is_file() or (path / "ORIGIN.md").is_file(), "a sample needs its ORIGIN.md"
    return path


def import_json(env, *paths, expect: int = 0) -> dict:
    res = env.run("import", *paths, "--json")
    assert res.code == expect, (res.code, res.out, res.err)
    return res.json()


def posts(env, source: str) -> dict[str, dict]:
    return {p["source_id"]: p for p in env.records("--kind", "post", "--source", source)}


# ---------------------------------------------------------------------------------------------
# LinkedIn: a 2025 Shares.csv (6 of its rows): each line of a multi-line commentary is wrapped
# in its own quotes in the CSV field.
# ---------------------------------------------------------------------------------------------

LI = "https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A{}"


def test_linkedin_2025_shares(vault_env):
    rep = import_json(vault_env, sample("linkedin", "sanand0-linkedin", "Shares.csv"))
    # 6 rows: 5 posts; the 2023-01-20 row has no commentary and no link (a bare repost).
    assert rep["source"] == "linkedin" and rep["added"] == {"post": 5, "media": 0, "rating": 0}
    assert rep["skipped"] == [] and rep["warnings"] == []
    got = posts(vault_env, "linkedin")
    assert set(got) == {LI.format(n) for n in ("7345821826846990338", "7345736358277103616", "7345704252889059331",
                                                "7323342724147949568", "6068010061538557952")}
    assert got[LI.format("7345821826846990338")]["text"] == (
        "I'm off for a 10-day Vipassana meditation program.\n"
        "\n"
        "𝗪𝗛𝗔𝗧? A 10-day residential meditation. No phone, laptop, or speaking. https://www.dhamma.org/\n"
        "𝗪𝗛𝗘𝗡? From today until next Sunday (13 July)\n"
        "𝗪𝗛𝗘𝗥𝗘? Near Chennai. https://lnkd.in/geGVFynY\n"
        "𝗪𝗛𝗬? I've heard good things and am curious.\n"
        "𝗦𝗨𝗥𝗘? I've never been away from tech for this long. Let's see!\n"
        "\n"
        "I've scheduled LinkedIn posts, so you'll still see stuff. But I won't be replying.")
    assert got[LI.format("7345821826846990338")]["created_at"] == "2025-07-01T14:33:22Z"
    llms = got[LI.format("7345736358277103616")]["text"]
    assert llms.startswith("If someone asked me, \"What's changed this year in LLMs\", here's my list:\n\n"
                           "Prompt engineering is out. Evals are in. https://lnkd.in/gfF-6giV\n")
    assert llms.endswith("\n\nWhat's on your list of things LLMs still can't do?")
    assert llms.count("\n") == 19                          # 20 lines, as in the raw field
    control = got[LI.format("7345704252889059331")]["text"]
    assert "\n… and they manage and evaluate \"smarter\" outputs in 𝘮𝘢𝘯𝘺 ways:\n" in control
    assert "\n𝗩𝗲𝗿𝗶𝗳𝘆. Check against an \"answer sheet\".\n" in control
    assert control.endswith("\n\nChatGPT: https://lnkd.in/g-q6jttw")
    assert got[LI.format("7323342724147949568")]["text"] == "People still write?"
    old = got[LI.format("6068010061538557952")]
    assert old["text"] == "Apparently, I'm one of the top 10 data scientists in India. https://lnkd.in/dBeCSbu"
    assert old["links"] == ["http://analyticsindiamag.com/top-10-data-scientists-in-india-2015/"]
    assert old["created_at"] == "2015-11-05T12:25:36Z" and old["source_visibility"] == "MEMBER_NETWORK"
    for post in got.values():                              # no line keeps LinkedIn's quoting
        assert not any(line.startswith('"') or line.endswith('"') for line in post["text"].split("\n"))


def test_mastodon_outbox(vault_env):
    folder = sample("mastodon", "fossilizer")
    rep = import_json(vault_env, folder / "outbox.json", folder / "actor.json")
    assert rep["source"] == "mastodon" and rep["added"] == {"post": 2, "media": 0, "rating": 0}
    got = posts(vault_env, "mastodon")
    hello = got["https://mastodon.social/users/lmorchard/statuses/55864"]
    assert hello["text"] == "Hello world!" and hello["created_at"] == "2016-11-01T19:18:43Z"
    assert hello["url"] == "https://mastodon.social/@lmorchard/55864"
    later = got["https://mastodon.social/users/lmorchard/statuses/237393"]
    assert later["text"] == ("I should post here more, but I've been procrastinating installing something "
                             "GNU-Social-ish on my own domain")
    assert later["created_at"] == "2016-11-27T23:56:46Z"
