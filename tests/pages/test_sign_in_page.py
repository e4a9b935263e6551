"""The sign-in page: password form always; institution sign-in only when switched on and configured."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from oversight.access import auth
from oversight.settings import reset_settings

REPO = Path(__file__).resolve().parents[2]


def _sign_in_page(**secrets) -> AppTest:
    at = AppTest.from_file(str(REPO / "views" / "sign_in.py"), default_timeout=60)
    for key, value in secrets.items():
        at.secrets[key] = value
    return at.run()


def _extra(at: AppTest) -> list[str]:
    return [b.label for b in at.button if b.label != "Sign in"]


def test_institution_sign_in_is_offered_only_when_on_and_configured(db, monkeypatch):
    at = _sign_in_page(auth={"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32})
    assert _extra(at) == []
    monkeypatch.setenv("OVERSIGHT_STAFF_OIDC", "1")
    reset_settings()
    assert _extra(_sign_in_page()) == []  # on, but no [auth] configured
    at = _sign_in_page(auth={"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32})
    assert _extra(at) == ["Sign in with your institution"]


def test_a_throttled_sign_in_shows_the_wait_and_a_good_one_signs_in(db, monkeypatch):
    monkeypatch.setenv("OVERSIGHT_LOGIN_MAX_DELAY_S", "60")
    reset_settings()
    auth.create_user(role="admin", name="ada", password="correct horse")
    at = _sign_in_page()
    for _ in range(3):
        at.text_input[0].input("ada")
        at.text_input[1].input("guess-guess")
        at.button[0].click().run()
        assert at.error[0].value == "wrong name or password"
    at.text_input[1].input("correct horse")
    at.button[0].click().run()
    assert at.error[0].value.startswith("Too many attempts: try again in")
    assert "user_id" not in at.session_state
