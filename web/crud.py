"""Writes that people make (sites, probes, users, finding status); each one is audited."""

from __future__ import annotations

import time

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from auditor.errors import ConfigError, StorageError
from web.models import (
    AuditLog,
    Finding,
    FindingAccept,
    Probe,
    ProbeCreate,
    Site,
    SiteCreate,
    User,
    UserCreate,
)
from web.security import hash_password, hash_token, new_probe_token

ROLES = ("admin", "auditor")


def audit(session: Session, actor: str, action: str, target: str = "", **detail: object) -> None:
    session.add(AuditLog(actor=actor, action=action, target=target, detail=dict(detail)))


def _commit(session: Session, what: str) -> None:
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ConfigError(f"{what} already exists") from exc


def create_site(session: Session, data: SiteCreate, actor: str) -> Site:
    """Create a site; raise ConfigError if the name is taken."""
    site = Site.model_validate(data)
    session.add(site)
    audit(session, actor, "site.create", f"site:{data.name}")
    _commit(session, f"site {data.name!r}")
    session.refresh(site)
    return site


def site_by_name(session: Session, name: str) -> Site:
    site = session.exec(select(Site).where(Site.name == name)).first()
    if site is None:
        raise ConfigError(f"no site named {name!r} (create it with: camaudit site add {name})")
    return site


def create_probe(session: Session, data: ProbeCreate, actor: str) -> tuple[Probe, str]:
    """Create a probe and return it with its token, which is never stored or shown again."""
    if session.get(Site, data.site_id) is None:
        raise ConfigError(f"no site with id {data.site_id}")
    token = new_probe_token()
    probe = Probe(name=data.name, site_id=data.site_id, token_hash=hash_token(token))
    session.add(probe)
    audit(session, actor, "probe.create", f"probe:{data.name}", site_id=data.site_id)
    _commit(session, f"probe {data.name!r}")
    session.refresh(probe)
    return probe, token


def revoke_probe(session: Session, probe: Probe, actor: str) -> Probe:
    probe.revoked = True
    session.add(probe)
    audit(session, actor, "probe.revoke", f"probe:{probe.name}")
    session.commit()
    session.refresh(probe)
    return probe


def probe_by_name(session: Session, name: str) -> Probe:
    probe = session.exec(select(Probe).where(Probe.name == name)).first()
    if probe is None:
        raise ConfigError(f"no probe named {name!r}")
    return probe


def create_user(session: Session, data: UserCreate, actor: str) -> User:
    """Create a user with an argon2 password hash; raise ConfigError on a bad role or name."""
    if data.role not in ROLES:
        raise ConfigError(f"unknown role {data.role!r}; expected one of {', '.join(ROLES)}")
    user = User(username=data.username, role=data.role, password_hash=hash_password(data.password))
    session.add(user)
    audit(session, actor, "user.create", f"user:{data.username}", role=data.role)
    _commit(session, f"user {data.username!r}")
    session.refresh(user)
    return user


def set_finding_status(
    session: Session,
    finding: Finding,
    action: str,
    user: User,
    accept: FindingAccept | None = None,
    note: str = "",
) -> Finding:
    """Acknowledge, accept (with justification and expiry) or reopen a finding."""
    now = time.time()
    if action == "acknowledge":
        finding.status, finding.justification, finding.expires_at = (
            "acknowledged",
            note or None,
            None,
        )
    elif action == "accept":
        if accept is None or accept.expires_at <= now:
            raise StorageError("accepting a risk needs a justification and a future expiry")
        finding.status = "accepted"
        finding.justification, finding.expires_at = accept.justification, accept.expires_at
    elif action == "reopen":
        finding.status, finding.justification, finding.expires_at = "open", None, None
    else:
        raise StorageError(f"unknown finding action {action!r}")
    finding.acknowledged_by = None if action == "reopen" else user.username
    finding.acknowledged_at = None if action == "reopen" else now
    session.add(finding)
    audit(
        session,
        f"user:{user.username}",
        f"finding.{action}",
        f"finding:{finding.id}",
        justification=finding.justification,
        expires_at=finding.expires_at,
    )
    session.commit()
    session.refresh(finding)
    return finding
