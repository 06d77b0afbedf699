"""``vault.yaml``: the owner's plain-text settings (publishing, monetization, targets).

Read with ``yaml.safe_load`` only.  It MUST NOT hold secrets: tokens come from the keyring or the
environment, and a key that looks like a secret is refused with a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import UsageError

PUBLIC_AUDIENCES = {"", "public", "unlisted", "anyone"}
SECRET_WORDS = ("token", "password", "secret", "api_key", "apikey", "passphrase")


@dataclass
class PublicRules:
    """Records matching every given rule are public unless explicitly marked otherwise."""

    sources: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    since: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.sources or self.kinds or self.tags or self.since)

    def matches(self, rec: dict) -> bool:
        if self.empty:
            return False
        if self.sources and rec.get("source") not in self.sources:
            return False
        if self.kinds and rec.get("kind") not in self.kinds:
            return False
        if self.tags and not set(self.tags) & set(rec.get("tags") or []):
            return False
        if self.since and (rec.get("created_at") or "") < self.since:
            return False
        # A rule publishes only what was public on its network (or carries no audience at all);
        # followers-only, direct, connections-only... need an explicit `vault mark --public`.
        audience = (rec.get("source_visibility") or "").strip().lower()
        return audience in PUBLIC_AUDIENCES


@dataclass
class Monetization:
    web_monetization: str | None = None          # wallet address URL (https://...)
    lightning_address: str | None = None         # user@host
    lnurlp: dict[str, Any] | None = None         # the provider's payRequest JSON, served as configured
    links: list[dict[str, str]] = field(default_factory=list)  # [{"name": "Ko-fi", "url": "https://..."}]

    @property
    def enabled(self) -> bool:
        return bool(self.web_monetization or self.lightning_address or self.links)


@dataclass
class Premium:
    recipients: list[str] = field(default_factory=list)  # age1... subscriber keys
    passphrase_env: str | None = None                     # name of an env var holding a shared passphrase
    teaser_chars: int = 0  # 0: no premium text in public at all (the fixed teaser stands in)
    access: str = ""          # how a paying reader gets access (shown on the support page)
    contact: str = ""         # where they write to (an e-mail address or a URL)


@dataclass
class PublishSettings:
    title: str = "My archive"
    author: str = ""
    description: str = ""
    base_url: str = ""
    language: str = "en"
    same_as: list[str] = field(default_factory=list)     # profile URLs elsewhere (schema.org sameAs)
    per_page: int = 20
    public: PublicRules = field(default_factory=PublicRules)
    monetization: Monetization = field(default_factory=Monetization)
    premium: Premium = field(default_factory=Premium)
    credential_validity_days: int = 365
    image: str = ""                                       # the site's share image (URL or path in the bundle)

    @property
    def site_url(self) -> str:
        return self.base_url.rstrip("/") + "/" if self.base_url else ""


@dataclass
class Settings:
    publish: PublishSettings
    targets: dict[str, str]


def _check_no_secrets(data: Any, path: str = "") -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            lowered = str(key).lower()
            if any(w in lowered for w in SECRET_WORDS) and not lowered.endswith("_env") and value not in (None, ""):
                raise UsageError(f"vault.yaml: {where} looks like a secret; secrets never go in vault.yaml",
                                 hint="use the keyring or an environment variable (e.g. NETLIFY_AUTH_TOKEN)")
            _check_no_secrets(value, where)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            _check_no_secrets(value, f"{path}[{i}]")


def _list(value: Any, where: str) -> list:
    if value is None:
        return []
    if isinstance(value, (str, int)):
        return [value]
    if isinstance(value, list):
        return value
    raise UsageError(f"vault.yaml: {where} must be a list")


def load(path: Path) -> Settings:
    """The settings in ``path`` (defaults when it does not exist).

    Raises UsageError for invalid YAML, a value of the wrong shape, or anything that looks like a
    secret.
    """
    raw = _read_yaml(path)
    _check_no_secrets(raw)
    pub = raw.get("publish") or {}
    if not isinstance(pub, dict):
        raise UsageError("vault.yaml: publish must be a mapping")
    settings = _publish_settings(pub)
    if settings.per_page < 1:
        raise UsageError("vault.yaml: publish.per_page must be at least 1")
    return Settings(settings, _targets(raw))


def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    except yaml.YAMLError as exc:
        raise UsageError(f"vault.yaml is not valid YAML: {exc}") from None
    raw = raw or {}
    if not isinstance(raw, dict):
        raise UsageError("vault.yaml must be a mapping")
    return raw


def _publish_settings(pub: dict) -> PublishSettings:
    return PublishSettings(
        title=str(pub.get("title") or "My archive"),
        author=str(pub.get("author") or ""),
        description=str(pub.get("description") or ""),
        base_url=str(pub.get("base_url") or ""),
        language=str(pub.get("language") or "en"),
        same_as=[str(u) for u in _list(pub.get("same_as"), "publish.same_as")],
        per_page=int(pub.get("per_page") or 20),
        public=_public_rules(pub.get("public") or {}),
        monetization=_monetization(pub.get("monetization") or {}),
        premium=_premium(pub.get("premium") or {}),
        credential_validity_days=int(pub.get("credential_validity_days") or 365),
        image=str(pub.get("image") or ""),
    )


def _public_rules(rules: dict) -> PublicRules:
    since = rules.get("since")
    if isinstance(since, datetime):
        since = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif since is not None:
        since = str(since)
        if len(since) == 10:   # a bare date: from its start, UTC
            since += "T00:00:00Z"
    return PublicRules(
        sources=[str(s) for s in _list(rules.get("sources"), "publish.public.sources")],
        kinds=[str(s) for s in _list(rules.get("kinds"), "publish.public.kinds")],
        tags=[str(s) for s in _list(rules.get("tags"), "publish.public.tags")],
        since=since,
    )


def _monetization(money: dict) -> Monetization:
    return Monetization(
        web_monetization=money.get("web_monetization"),
        lightning_address=money.get("lightning_address"),
        lnurlp=money.get("lnurlp"),
        links=[{"name": str(l.get("name", "")), "url": str(l.get("url", ""))} for l in _list(money.get("links"), "publish.monetization.links") if isinstance(l, dict)],
    )


def _premium(prem: dict) -> Premium:
    return Premium(
        recipients=[str(r) for r in _list(prem.get("recipients"), "publish.premium.recipients")],
        passphrase_env=prem.get("passphrase_env"),
        teaser_chars=int(prem.get("teaser_chars") or 0),
        access=str(prem.get("access") or "").strip(),
        contact=str(prem.get("contact") or "").strip(),
    )


def _targets(raw: dict) -> dict[str, str]:
    """The ``targets`` mapping (name: spec); a spec carrying credentials is refused."""
    targets = raw.get("targets") or {}
    if not isinstance(targets, dict):
        raise UsageError("vault.yaml: targets must be a mapping of name: spec")
    from .rclone import redact

    for name, spec in targets.items():
        if redact(str(spec), env={}) != str(spec):
            raise UsageError(f"vault.yaml: target {name!r} carries credentials; secrets never go in vault.yaml",
                             hint="configure the remote with `rclone config` or RCLONE_CONFIG_* variables, and name it here")
    return {str(k): str(v) for k, v in targets.items()}
