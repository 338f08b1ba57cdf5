"""The publication salt: the per-installation secret that published offense ids are hashed with.

``offense_id = md5(salt || offense_key)``. Without a long secret salt an id is the md5 of a key
anyone can enumerate (source, row, offense), so it would point back at the police record. The
salt lives beside the data (``<data dir>/.publish_salt``, mode 0600) so ids stay stable from
release to release; ``CRIMEMAP_PUBLISH_SALT`` overrides it.

Rules: a missing file is created on the first publish, whole or not at all (a temporary file
linked into place, so two publishers agree on one salt). An empty or short salt is refused. A
missing file when releases already exist is refused too: a new salt would silently change every
published id. ``crimemap new-salt`` is the deliberate way to start a new one.
"""

from __future__ import annotations

import os
import secrets
import stat
import tempfile
from pathlib import Path

from crimemap.core.files import fsync_directory

SALT_FILE = ".publish_salt"
SALT_ENV = "CRIMEMAP_PUBLISH_SALT"
MIN_SALT_CHARS = 32  # 128 bits as hex; a new salt has 64 (token_hex(32))


class SaltError(RuntimeError):
    """A salt that would make published ids guessable or silently change them."""


def salt_path(data_root: Path) -> Path:
    return data_root / SALT_FILE


def check_salt(salt: str, where: str) -> str:
    if len(salt) < MIN_SALT_CHARS:
        state = "empty" if not salt else f"{len(salt)} characters"
        raise SaltError(
            f"{where}: the publication salt is {state}; at least {MIN_SALT_CHARS} are needed, "
            "or published ids could be reversed by enumeration (docs/publishing.md, "
            "publication salt)"
        )
    return salt


def create_salt(path: Path) -> bool:
    """Write a new random salt at ``path`` (mode 0600) unless one is there; True if written.

    The salt is written to a temporary file first and linked into place: the name appears only
    with its whole content, and of two concurrent creators exactly one wins.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".tmp-salt-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        fsync_directory(path.parent)
        return True
    finally:
        os.unlink(temporary)


def read_salt(path: Path) -> str:
    """The salt in ``path``, checked; a file readable by others is made private first."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
    return check_salt(path.read_text(encoding="utf-8").strip(), str(path))


def publication_salt(data_root: Path, *, has_releases: bool, configured: str | None) -> str:
    """The salt to publish with: ``configured`` (the environment's) when set, else the data
    directory's file, created on the first publish."""
    if configured is not None:
        return check_salt(configured.strip(), SALT_ENV)
    path = salt_path(data_root)
    if not path.exists():
        if has_releases:
            raise SaltError(
                f"{path}: missing, but releases were published with a salt: restore the file "
                "from a backup to keep published ids stable, or run `crimemap new-salt` to "
                "start a new one (every published id changes with the next release)"
            )
        create_salt(path)
    return read_salt(path)


def new_salt(data_root: Path) -> Path:
    """Replace the data directory's salt with a new one (``crimemap new-salt``)."""
    path = salt_path(data_root)
    path.unlink(missing_ok=True)
    create_salt(path)
    return path
