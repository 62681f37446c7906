"""Accounts in their SQLite file, or in the PostgreSQL database that nodes share: hashed passwords, the sign-in
slowdown on a clock we set, sessions, display tokens, and the MQTT secret read only from a file nobody else may
read."""

from __future__ import annotations

import pytest

from cityops.config import ConfigError, MqttSettings
from store.accounts import AccountError, Accounts, digest
from store.sign_in_throttle import Slowdown

T = 1_800_000_000.0  # a fixed clock


@pytest.fixture
def accounts(open_store, tmp_path):
    if open_store.engine == "duckdb":
        accounts = Accounts(tmp_path / "accounts.sqlite")
    else:
        accounts = Accounts(postgres=open_store("accounts"))
    yield accounts
    accounts.close()


def stored(accounts) -> bytes:
    """Everything the accounts keep, as stored: the SQLite file, or the PostgreSQL tables' rows."""
    if accounts.path is not None:
        return accounts.path.read_bytes()
    tables = ("users", "sessions", "displays", "audit_log", "sign_in_failures", "devices")
    return "\n".join(str(row) for t in tables for row in accounts.db().execute(f"SELECT * FROM {t}")).encode()


def test_passwords_are_stored_hashed_and_never_as_given(accounts):
    accounts.add("wang", "duty_officer", password="correct horse battery")
    assert b"correct horse battery" not in stored(accounts)
    hashed = accounts.db().execute("SELECT password FROM users").fetchone()[0]
    assert hashed.startswith("scrypt$32768$8$1$")
    if accounts.path is not None:
        assert accounts.path.stat().st_mode & 0o077 == 0  # readable by the service only
    assert accounts.sign_in("wang", "correct horse battery", "10.0.0.1", now=T).outcome == "ok"
    assert accounts.sign_in("wang", "Correct horse battery", "10.0.0.1", now=T + 1).outcome == "wrong"


SLOW = Slowdown(name_after=2, address_after=4, longest_s=60)


def test_failures_slow_the_name_down_but_lock_nobody_out(accounts):
    accounts.add("li", "viewer", password="the right one!")
    for second in (0, 1):
        assert accounts.sign_in("li", "x", "10.0.0.9", slow=SLOW, now=T + second).outcome == "wrong"
    # Two failures: the next try waits 1 s, then 2 s; a try in between is not even checked, the right password too.
    assert accounts.sign_in("li", "the right one!", "10.0.0.8", slow=SLOW, now=T + 1.5).outcome == "wait"
    assert accounts.sign_in("li", "x", "10.0.0.8", slow=SLOW, now=T + 2.1).outcome == "wrong"
    waiting = accounts.sign_in("li", "x", "10.0.0.7", slow=SLOW, now=T + 3.0)
    assert waiting.outcome == "wait" and waiting.until == pytest.approx(T + 2.1 + 2)
    # The waits grow to the longest and no further: the user gets in once it has passed.
    for attempt in range(8):
        accounts.sign_in("li", "x", f"10.1.0.{attempt}", slow=SLOW, now=T + 10 + 70 * attempt)
    last = accounts.sign_in("li", "x", "10.2.0.1", slow=SLOW, now=T + 10 + 70 * 7 + 30)
    assert last.outcome == "wait" and last.until - (T + 10 + 70 * 7) == pytest.approx(60)
    assert accounts.sign_in("li", "the right one!", "10.2.0.2", slow=SLOW, now=T + 10 + 70 * 7 + 61).outcome == "ok"
    # The right password starts the name afresh.
    assert accounts.sign_in("li", "x", "10.2.0.3", slow=SLOW, now=T + 700).outcome == "wrong"


def test_a_browser_the_user_signed_in_with_is_not_slowed_by_a_guesser(accounts):
    accounts.add("li", "viewer", password="the right one!")
    device = accounts.trust_device("li", now=T)
    for attempt in range(2):
        accounts.sign_in("li", "x", "203.0.113.5", slow=SLOW, now=T + attempt)
    assert accounts.sign_in("li", "the right one!", "10.0.0.2", slow=SLOW, now=T + 1.2).outcome == "wait"
    mine = accounts.sign_in("li", "the right one!", "10.0.0.2", ["other", device], slow=SLOW, now=T + 1.2)
    assert mine.outcome == "ok"
    # A device token is the user's own: another name presenting it counts as any stranger.
    accounts.add("wu", "viewer", password="another right one")
    for attempt in range(2):
        accounts.sign_in("wu", "x", f"203.0.113.{attempt}", slow=SLOW, now=T + attempt)
    assert accounts.sign_in("wu", "another right one", "10.0.0.3", [device], slow=SLOW, now=T + 1.2).outcome == "wait"


def test_one_address_guessing_at_many_names_is_slowed_down(accounts):
    for i in range(4):
        assert accounts.sign_in(f"name{i}", "x", "203.0.113.5", slow=SLOW, now=T + i).outcome == "wrong"
    assert accounts.sign_in("name9", "x", "203.0.113.5", slow=SLOW, now=T + 3.5).outcome == "wait"
    assert accounts.sign_in("name9", "x", "203.0.113.6", slow=SLOW, now=T + 3.5).outcome == "wrong"  # another address


def test_unknown_and_known_names_get_the_same_answers(accounts):
    accounts.add("li", "viewer", password="the right one!")
    answers = {}
    for name in ("li", "nobody"):
        answers[name] = [accounts.sign_in(name, "x", f"10.0.{len(name)}.1", slow=SLOW, now=T + s).outcome
                         for s in (0, 0.1, 0.2, 1.1, 1.2, 3.2)]  # fmt: skip
    assert answers["li"] == answers["nobody"] == ["wrong", "wrong", "wait", "wrong", "wait", "wrong"]


def test_an_administrators_reset_ends_the_waits_of_the_name(accounts):
    accounts.add("li", "viewer", password="the right one!")
    for attempt in range(3):
        accounts.sign_in("li", "x", f"203.0.113.{attempt}", slow=SLOW, now=T + attempt * 0.1)
    password = accounts.reset_password("li")
    assert accounts.sign_in("li", password, "10.0.0.2", slow=SLOW, now=T + 0.5).outcome == "ok"


def test_a_disabled_user_neither_signs_in_nor_keeps_a_session(accounts):
    accounts.add("zhao", "supervisor", password="long enough pass")
    token, csrf = accounts.open_session("zhao", "127.0.0.1", now=T)
    assert accounts.session(token, 1800, 43200, touch=True, now=T + 10) == (accounts.get("zhao"), csrf)
    accounts.set_disabled("zhao", True)
    assert accounts.session(token, 1800, 43200, touch=True, now=T + 20) is None
    assert accounts.sign_in("zhao", "long enough pass", "10.0.0.1", now=T + 30).outcome == "disabled"


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


def test_display_tokens_are_kept_as_digests_and_revocable(accounts):
    token = accounts.add_display("hall", "admin")
    assert token.encode() not in stored(accounts)
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
    assert accounts.sign_in("zhao", too_long, "10.0.0.1", now=T).outcome == "wrong"
    assert accounts.sign_in("zhao", "the right one!", "10.0.0.1", now=T).outcome == "ok"
