"""The publication salt: created whole and private, never empty or short, never silently new."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from crimemap.warehouse.salt import (
    MIN_SALT_CHARS,
    SALT_ENV,
    SaltError,
    create_salt,
    new_salt,
    publication_salt,
    salt_path,
)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_first_publish_creates_a_private_random_salt(tmp_path: Path) -> None:
    salt = publication_salt(tmp_path, has_releases=False, configured=None)

    path = salt_path(tmp_path)
    assert len(salt) == 64 and int(salt, 16) >= 0
    assert path.read_text() == salt
    assert mode_of(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    # stable from release to release
    assert publication_salt(tmp_path, has_releases=True, configured=None) == salt


def test_two_installations_get_different_salts(tmp_path: Path) -> None:
    first = publication_salt(tmp_path / "a", has_releases=False, configured=None)
    second = publication_salt(tmp_path / "b", has_releases=False, configured=None)

    assert first != second


def test_concurrent_creators_agree_on_one_salt(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(lambda _: create_salt(salt_path(tmp_path)), range(16)))
        salts = set(
            pool.map(
                lambda _: publication_salt(tmp_path, has_releases=True, configured=None), range(8)
            )
        )

    assert created.count(True) == 1
    assert len(salts) == 1


@pytest.mark.parametrize(
    ("text", "state"), [("", "empty"), ("\n", "empty"), ("abc123", "6 characters")]
)
def test_an_empty_or_short_salt_file_is_refused(tmp_path: Path, text: str, state: str) -> None:
    salt_path(tmp_path).write_text(text)

    with pytest.raises(SaltError, match=f"the publication salt is {state}; at least 32"):
        publication_salt(tmp_path, has_releases=True, configured=None)


@pytest.mark.parametrize("value", ["", "   ", "x" * (MIN_SALT_CHARS - 1)])
def test_a_short_salt_from_the_environment_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(SaltError, match=f"^{SALT_ENV}: the publication salt is"):
        publication_salt(tmp_path, has_releases=False, configured=value)
    assert not salt_path(tmp_path).exists()


def test_the_environment_salt_overrides_the_file(tmp_path: Path) -> None:
    value = "s" * MIN_SALT_CHARS

    assert publication_salt(tmp_path, has_releases=True, configured=value) == value


def test_a_lost_salt_file_is_not_replaced_silently(tmp_path: Path) -> None:
    with pytest.raises(SaltError, match=r"missing, but releases were published with a salt"):
        publication_salt(tmp_path, has_releases=True, configured=None)
    assert not salt_path(tmp_path).exists()

    path = new_salt(tmp_path)  # the deliberate recovery

    assert publication_salt(tmp_path, has_releases=True, configured=None) == path.read_text()


def test_a_salt_readable_by_others_is_made_private(tmp_path: Path) -> None:
    path = salt_path(tmp_path)
    path.write_text("f" * 64)
    path.chmod(0o644)

    publication_salt(tmp_path, has_releases=True, configured=None)

    assert mode_of(path) == 0o600


def test_a_new_salt_replaces_the_old_one(tmp_path: Path) -> None:
    old = publication_salt(tmp_path, has_releases=False, configured=None)

    new_salt(tmp_path)

    assert publication_salt(tmp_path, has_releases=True, configured=None) != old
