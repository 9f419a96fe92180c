"""bot.serve takes Rasa's API token from the environment, never leaves the API open."""
from __future__ import annotations

import pytest

from bot.serve import with_token_from_env


def test_the_token_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("RASA_TOKEN", "s3cret")
    assert with_token_from_env(["serve", "run", "--enable-api"]) == ["serve", "run", "--enable-api", "--auth-token", "s3cret"]


def test_an_explicit_token_is_kept(monkeypatch):
    monkeypatch.setenv("RASA_TOKEN", "s3cret")
    argv = ["serve", "run", "--enable-api", "--auth-token", "other"]
    assert with_token_from_env(argv) == argv


def test_no_token_and_an_enabled_api_refuses_to_start(monkeypatch):
    monkeypatch.setenv("RASA_TOKEN", "")
    with pytest.raises(SystemExit, match="refusing"):
        with_token_from_env(["serve", "run", "--enable-api"])


def test_other_commands_are_untouched(monkeypatch):
    monkeypatch.setenv("RASA_TOKEN", "s3cret")
    assert with_token_from_env(["serve", "train"]) == ["serve", "train"]
