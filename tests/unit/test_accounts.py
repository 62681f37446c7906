"""Accounts in their SQLite file: hashed passwords, the sign-in lock on a clock we set, sessions, display tokens,
and the MQTT secret read only from a file nobody else may read."""

from __future__ import annotations

import sqlite3

import pytest

from cityops.config import ConfigError, MqttSettings
from store.accounts import AccountError, Accounts, digest

T = 1_800_000_000.0  # a fixed clock


@pytest.fixture
def accounts(tmp_path):
    accounts = Accounts(tmp_path / "accounts.sqlite")
    yield accounts
    accounts.close()


def test_passwords_are_stored_hashed_and_never_as_given(accounts, tmp_path):
    accounts.add("wang", "duty_officer", password="correct horse battery")
    raw = (tmp_path / "accounts.sqlite").read_bytes()
    assert b"correct horse battery" not in raw
    stored = sqlite3.connect(tmp_path / "accounts.sqlite").execute("SELECT password FROM users").fetchone()[0]
    assert stored.startswith("scrypt$32768$8$1$")
    assert (tmp_path / "accounts.sqlite").stat().st_mode & 0o077 == 0  # readable by the service only
    assert accounts.sign_in("wang", "correct horse battery", 5, 900, now=T).outcome == "ok"
    assert accounts.sign_in("wang", "Correct horse battery", 5, 900, now=T + 1).outcome == "wrong"


def test_failures_slow_down_then_lock_then_the_lock_passes(accounts):
    accounts.add("li", "viewer", password="the right one!")
    assert accounts.sign_in("li", "x", 3, 900, now=T).outcome == "wrong"
    # The next try waits 1 s, then 2 s: a try in between is not even checked, the right password included.
    assert accounts.sign_in("li", "the right one!", 3, 900, now=T + 0.5).outcome == "wait"
    assert accounts.sign_in("li", "x", 3, 900, now=T + 1.1).outcome == "wrong"
    assert accounts.sign_in("li", "x", 3, 900, now=T + 2.0).outcome == "wait"
    third = accounts.sign_in("li", "x", 3, 900, now=T + 3.2)
    assert third.outcome == "locked" and third.locked_now and third.until == pytest.approx(T + 3.2 + 900)
    assert accounts.sign_in("li", "the right one!", 3, 900, now=T + 600).outcome == "locked"
    assert accounts.sign_in("li", "the right one!", 3, 900, now=T + 904).outcome == "ok"  # the lock has passed
    assert accounts.sign_in("nobody", "x", 3, 900, now=T).outcome == "wrong"  # same answer for an unknown name


def test_a_disabled_user_neither_signs_in_nor_keeps_a_session(accounts):
    accounts.add("zhao", "supervisor", password="long enough pass")
    token, csrf = accounts.open_session("zhao", "127.0.0.1", now=T)
    assert accounts.session(token, 1800, 43200, touch=True, now=T + 10) == (accounts.get("zhao"), csrf)
    accounts.set_disabled("zhao", True)
    assert accounts.session(token, 1800, 43200, touch=True, now=T + 20) is None
    assert accounts.sign_in("zhao", "long enough pass", 5, 900, now=T + 30).outcome == "disabled"


def test_sessions_expire_by_inactivity_and_by_age(accounts):
    accounts.add("sun", "viewer", password="long enough pass")
    token, _ = accounts.open_session("sun", "", now=T)
    assert accounts.session(token, 600, 3600, touch=True, now=T + 500) is not None  # touched at T + 500
    assert accounts.session(token, 600, 3600, touch=False, now=T + 1000) is not None  # 500 s idle
    assert accounts.session(token, 600, 3600, touch=False, now=T + 1200) is None  # 700 s idle: over
    assert accounts.session_expired(token, 600, now=T + 1200)
    fresh, _ = accounts.open_session("sun", "", now=T)
    for minute in range(1, 61):  # active all along, but no session outlives its maximum age
        alive = accounts.session(fresh, 600, 3600, touch=True, now=T + minute * 60 + 1)
    assert alive is None


def test_roles_and_districts_are_checked(accounts):
    with pytest.raises(AccountError, match="unknown role"):
        accounts.add("a", "root")
    with pytest.raises(AccountError, match="needs at least one district"):
        accounts.add("b", "district_leader")
    with pytest.raises(AccountError, match="already exists"):
        accounts.add("c", "viewer")
        accounts.add("c", "viewer")
    with pytest.raises(AccountError, match="letters, digits"):
        accounts.add("<script>", "viewer")
    password = accounts.add("d", "viewer")
    assert len(password) >= 16 and accounts.get("d").must_change
    with pytest.raises(AccountError) as refused:
        accounts.change_password("d", password, "short")
    assert refused.value.code == "short"


def test_display_tokens_are_kept_as_digests_and_revocable(accounts, tmp_path):
    token = accounts.add_display("hall", "admin")
    assert token.encode() not in (tmp_path / "accounts.sqlite").read_bytes()
    assert digest(token).encode() in b"".join(
        row[0].encode() for row in accounts.db().execute("SELECT token_hash FROM displays")
    )
    assert accounts.display(token).name == "hall"
    accounts.revoke_display(accounts.display(token).id)
    assert accounts.display(token) is None
    with pytest.raises(AccountError, match="already revoked"):
        accounts.revoke_display(1)


def test_the_mqtt_password_comes_from_a_file_only_the_service_may_read(tmp_path, monkeypatch):
    secret = tmp_path / "mqtt.secret"
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    settings = MqttSettings(username="cityops", password_file=secret)
    with pytest.raises(ConfigError, match="chmod 600"):
        settings.password()
    secret.chmod(0o600)
    assert settings.password() == "s3cret"
    monkeypatch.delenv("CITYOPS_TEST_MQTT", raising=False)
    with pytest.raises(ConfigError, match="CITYOPS_TEST_MQTT is not set"):
        MqttSettings(username="cityops", password_env="CITYOPS_TEST_MQTT").password()
    with pytest.raises(ValueError, match="needs a username"):
        MqttSettings(password_file=secret)


def test_names_and_passwords_beyond_their_limits_are_no_ones(accounts):
    from store.accounts import NAME_MAX, PASSWORD_MAX

    with pytest.raises(AccountError):
        accounts.add("a" * (NAME_MAX + 1), "viewer")
    accounts.add("zhao", "viewer", password="the right one!")
    with pytest.raises(AccountError) as long_password:
        accounts.change_password("zhao", "the right one!", "p" * (PASSWORD_MAX + 1))
    assert long_password.value.code == "long"
    too_long = "the right one!" + "!" * PASSWORD_MAX
    assert accounts.sign_in("zhao", too_long, 3, 900, now=T).outcome == "wrong"
    assert accounts.sign_in("zhao", "the right one!", 3, 900, now=T).outcome == "ok"  # no failure was counted
