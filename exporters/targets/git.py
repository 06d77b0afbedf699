"""`git:URL[#BRANCH]`: publish to a git branch, e.g. GitHub Pages (`gh-pages` by default).

Keeps a working copy in the user cache folder, fetches the branch, mirrors the bundle into it
(plus `.nojekyll`, so GitHub Pages serves files as they are), commits only when something changed
and pushes.  Git runs with prompts disabled, so a cron job never hangs on credentials; its error
text is passed on with any credentials in URLs masked.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from vault.plugin_api import Plan, RemoteError, UsageError, diff, sha256_file, upload_order

NOJEKYLL = ".nojekyll"
_CRED = re.compile(r"(://)[^/@\s]+@")


def _mask(text: str) -> str:
    return _CRED.sub(r"\1***@", text)


class GitTarget:
    scheme = "git"

    def __init__(self, url: str, branch: str, workdir: Path) -> None:
        self.url = url
        self.branch = branch
        self.workdir = workdir

    @classmethod
    def open(cls, rest: str, context: dict[str, Any]) -> "GitTarget":
        url, _, branch = rest.partition("#")
        if not url:
            raise UsageError("git: needs a repository URL, e.g. git:git@github.com:jana/jana.github.io.git#gh-pages")
        if shutil.which("git") is None:
            raise UsageError("git is not installed", hint="install git to publish to a git branch")
        import platformdirs

        key = hashlib.sha256(f"{url}#{branch}".encode()).hexdigest()[:16]
        workdir = platformdirs.user_cache_path("vault") / "git" / key
        settings = context.get("settings")
        if settings is not None and settings.monetization.enabled and "github" in url:
            context.setdefault("warnings", []).append(
                "GitHub Pages' terms restrict commercial use (sites primarily for selling or monetization); "
                "check they allow this site, or publish to another host")
        return cls(url, branch or "gh-pages", workdir)

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true", LC_ALL="C")
        env.setdefault("GIT_AUTHOR_NAME", "vault")
        env.setdefault("GIT_AUTHOR_EMAIL", "vault@localhost")
        env.setdefault("GIT_COMMITTER_NAME", env["GIT_AUTHOR_NAME"])
        env.setdefault("GIT_COMMITTER_EMAIL", env["GIT_AUTHOR_EMAIL"])
        try:
            proc = subprocess.run(["git", "-C", str(self.workdir), *args], capture_output=True, text=True, env=env, timeout=600)
        except subprocess.TimeoutExpired:
            raise RemoteError(f"git {args[0]} timed out") from None
        if check and proc.returncode != 0:
            msg = _mask((proc.stderr or proc.stdout).strip().splitlines()[-1] if (proc.stderr or proc.stdout).strip() else f"exit {proc.returncode}")
            raise RemoteError(f"git {args[0]} failed: {msg}", hint=f"repository {_mask(self.url)}, branch {self.branch}")
        return proc

    def _sync(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not (self.workdir / ".git").exists():
            self._git("init", "-q")
            self._git("remote", "add", "origin", self.url)
        else:
            self._git("remote", "set-url", "origin", self.url)
        heads = self._git("ls-remote", "--heads", "origin", self.branch).stdout.strip()
        if heads:
            self._git("fetch", "-q", "--depth", "1", "origin", self.branch)
            self._git("checkout", "-q", "-B", self.branch, "FETCH_HEAD")
            self._git("reset", "-q", "--hard", "FETCH_HEAD")
            self._git("clean", "-q", "-fdx")
        else:
            # Start the branch afresh: a commit left by a push that failed earlier is dropped here
            # (and made again from the bundle), never mistaken for what the remote already has.
            self._git("symbolic-ref", "HEAD", f"refs/heads/{self.branch}")
            self._git("update-ref", "-d", f"refs/heads/{self.branch}", check=False)
            self._git("rm", "-q", "-rf", "--ignore-unmatch", ".", check=False)
            self._git("clean", "-q", "-fdx")

    def _current(self) -> dict[str, str]:
        out = {}
        for p in self.workdir.rglob("*"):
            rel = p.relative_to(self.workdir)
            if p.is_file() and rel.parts[0] != ".git":
                out[rel.as_posix()] = sha256_file(p)
        return out

    def plan(self, files: dict[str, str]) -> Plan:
        self._sync()
        wanted = dict(files, **{NOJEKYLL: hashlib.sha256(b"").hexdigest()})
        return diff(wanted, self._current())

    def apply(self, build_dir: Path, plan: Plan) -> dict[str, Any]:
        for rel in upload_order(plan.added + plan.changed):
            dest = self.workdir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if rel == NOJEKYLL:
                dest.write_bytes(b"")
            else:
                shutil.copyfile(build_dir / rel, dest)
        for rel in plan.deleted:
            (self.workdir / rel).unlink(missing_ok=True)
        self._git("add", "-A")
        if self._git("diff", "--cached", "--quiet", check=False).returncode == 0:
            return {"target": f"git:{_mask(self.url)}#{self.branch}", "commit": None, "pushed": False}
        self._git("commit", "-q", "-m", f"Publish: {len(plan.added)} added, {len(plan.changed)} changed, {len(plan.deleted)} deleted")
        self._git("push", "-q", "origin", f"HEAD:refs/heads/{self.branch}")
        commit = self._git("rev-parse", "HEAD").stdout.strip()
        return {"target": f"git:{_mask(self.url)}#{self.branch}", "commit": commit, "pushed": True}
