"""The notification channels' configuration (issue 24): a channel without what its protocol needs, a secret the
environment lacks, or a subscription to no channel stops start-up with what is wrong, not the first red alert."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from alerts.org import Organisation
from cityops import DEMO_DIR
from cityops.config import ConfigError, load
from cityops.runtime import check_notify
from notify.channels import dingtalk_url, feishu_signed, sign
from notify.settings import NotifySettings


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ({"id": "x", "kind": "webhook"}, r"a channel of kind webhook needs `url` \(or url_env\)"),
        ({"id": "x", "kind": "email", "host": "smtp"}, "a channel of kind email needs `sender`"),
        ({"id": "x", "kind": "mqtt"}, "needs `topic`"),
        ({"id": "x", "kind": "wecom", "url": "http://a", "url_env": "B"}, "give url or url_env, not both"),
        ({"id": "x", "kind": "sms", "url": "http://a"}, "kind"),
    ],
)
def test_a_channel_without_what_its_protocol_needs_is_refused(channel, message):
    with pytest.raises(ValidationError, match=message):
        NotifySettings.model_validate({"channels": [channel]})


def test_a_missing_secret_or_an_unknown_channel_stops_start_up(tmp_path, monkeypatch, demo_regions):
    settings = load(DEMO_DIR / "cityops.toml", environ={})
    org = Organisation.load(DEMO_DIR / "org.yaml", demo_regions)
    check_notify(settings, org)  # the demo's: its own broker, no secret
    hook = {"id": "hook", "kind": "webhook", "url": "https://ops.example/hook", "secret_env": "NO_SUCH_SECRET"}
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    settings.notify = NotifySettings.model_validate({"channels": [hook]})
    with pytest.raises(ConfigError, match="channel hook: secret_env: the variable NO_SUCH_SECRET is not set"):
        check_notify(settings, org)
    monkeypatch.setenv("NO_SUCH_SECRET", "s")
    with pytest.raises(ConfigError, match=r"org.yaml: subscriptions\[0\]: no channel 'bus' among \[\[notify.channels"):
        check_notify(settings, org)


def test_the_signatures_are_the_documented_ones():
    """Webhook: HMAC-SHA256 over "<timestamp>.<body>"; DingTalk: key = secret, message = "ts\\nsecret", in the URL;
    Feishu: key = "ts\\nsecret", message empty, in the body (values computed independently with openssl)."""
    # printf '1700000000.{}' | openssl dgst -sha256 -hmac k
    assert sign("k", 1700000000, b"{}") == "sha256=c6ef4734033cee2367414a0939385eca0397754aa7a59716da7463a9298b5146"
    url = dingtalk_url("https://oapi.dingtalk.com/robot/send?access_token=t", "SECabc", now_ms=1700000000000)
    assert url == ("https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1700000000000&sign="
                   "jcUpW0QmtKduN03n4JqQ0PBosVjqnM8gU7fIIvsDmCM%3D")  # fmt: skip
    signed = feishu_signed({"msg_type": "text"}, "abc", now_s=1700000000)
    assert signed == {"timestamp": "1700000000", "sign": "VIS10b0EBvzzSdFnuk4tznEmK5wHaruvf/WnViv2yR4=",
                      "msg_type": "text"}  # fmt: skip
