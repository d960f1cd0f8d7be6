"""A user's settings: the defaults until changed, their saved values after, and only a model that is offered."""

from components.settings import CONTROLS, DEFAULTS, preferences


def test_a_new_user_starts_from_the_defaults_with_the_default_model():
    assert preferences({}, ["a", "b"], "b") == {**DEFAULTS, "model": "b"}


def test_saved_settings_win_and_unknown_keys_or_a_model_no_longer_offered_are_dropped():
    saved = {"temperature": 0.2, "theme": "dark", "model": "gone", "extra": 1}
    assert preferences(saved, ["a"], "a") == {**DEFAULTS, "temperature": 0.2, "theme": "dark", "model": "a"}


def test_every_setting_has_a_control_on_the_page():
    assert set(CONTROLS) == set(DEFAULTS)
