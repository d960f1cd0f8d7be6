"""The settings drawer: model, system prompt and presets, sampling, history length, language, theme, data."""

import feffery_antd_components as fac
from dash import dcc, html

from chatcore.strings import LANGUAGE_NAMES, LANGUAGES
from components import ids

# What a user starts with before changing anything; their changes are kept in the store (users.save_settings).
DEFAULTS = {"multiTurn": True, "model": None, "systemPrompt": "", "temperature": 0.7, "maxTokens": None,
            "historyTurns": 20, "theme": "system"}
# The control (id, property) of every setting: the settings callback saves them, sending a question reads them.
# Multi-turn is the header's switch, drawn with the first screen; the others are in the drawer, drawn after it.
CONTROLS = {"multiTurn": (ids.MULTI_TURN, "value"), "model": (ids.MODEL, "value"),
            "systemPrompt": (ids.SYSTEM_PROMPT, "value"), "temperature": (ids.TEMPERATURE, "value"),
            "maxTokens": (ids.MAX_TOKENS, "value"), "historyTurns": (ids.HISTORY_TURNS, "value"),
            "theme": (ids.THEME, "value")}
ON = "on"  # the multi-turn switch's one option: its value is [ON] when on, [] when off


def multi_turn_on(value) -> bool:
    """Whether the multi-turn switch's value says on."""
    return ON in (value or [])


def preferences(saved, models, default_model) -> dict:
    """The user's saved settings over the defaults; a model no longer offered falls back to the default."""
    merged = {**DEFAULTS, "model": default_model,
              **{key: value for key, value in (saved or {}).items() if key in DEFAULTS}}
    if merged["model"] not in models:
        merged["model"] = default_model
    return merged


def _field(label, control):
    """A labelled row in the drawer."""
    return html.Div([html.Div(label, className="settings-label"), control], className="settings-field")


def model_options(models):
    """Picker options for (model id, provider) pairs: grouped by provider when there are several."""
    providers = list(dict.fromkeys(provider for _, provider in models))
    if len(providers) < 2:
        return [{"label": model, "value": model} for model, _ in models]
    return [{"group": provider, "options": [{"label": model.split("/", 1)[-1], "value": model}
                                            for model, owner in models if owner == provider]}
            for provider in providers]


def render(strings, models, prefs, lang):
    """The drawer, showing the user's settings `prefs` (each change is saved for the user)."""
    presets = [{"label": strings["presetNone"], "value": "none"}] + [
        {"label": strings[key], "value": value}
        for key, value in (("presetTranslator", "translator"), ("presetReviewer", "reviewer"),
                           ("presetWeekly", "weekly"))]
    return fac.AntdDrawer(
        id=ids.SETTINGS_DRAWER, title=strings["settings"], visible=False, width="min(420px, 100vw)",
        children=[
            _field(strings["model"], fac.AntdSelect(
                id=ids.MODEL, options=model_options(models),
                value=prefs["model"], allowClear=False, style={"width": "100%"})),
            _field(strings["systemPrompt"], html.Div([
                fac.AntdSelect(id=ids.PRESET, options=presets, placeholder=strings["presets"],
                               allowClear=False, style={"width": "100%", "marginBottom": 8}),
                fac.AntdInput(id=ids.SYSTEM_PROMPT, mode="text-area", value=prefs["systemPrompt"],
                              autoSize={"minRows": 2, "maxRows": 8}, placeholder=strings["systemPromptPlaceholder"]),
            ])),
            _field(strings["temperature"], fac.AntdSlider(
                id=ids.TEMPERATURE, min=0, max=2, step=0.1, value=prefs["temperature"],
                marks={0: "0", 1: "1", 2: "2"})),
            _field(strings["maxTokens"], fac.AntdInputNumber(
                id=ids.MAX_TOKENS, value=prefs["maxTokens"], min=1, max=128000, step=64, precision=0,
                placeholder=strings["maxTokensPlaceholder"], style={"width": "100%"})),
            _field(strings["historyTurns"], fac.AntdSlider(
                id=ids.HISTORY_TURNS, min=1, max=50, step=1, value=prefs["historyTurns"],
                marks={1: "1", 20: "20", 50: "50"})),
            _field(strings["language"], fac.AntdSegmented(
                id=ids.LANGUAGE, value=lang, block=True,
                options=[{"label": LANGUAGE_NAMES[code], "value": code} for code in LANGUAGES])),
            _field(strings["theme"], fac.AntdSegmented(
                id=ids.THEME, value=prefs["theme"], block=True,
                options=[{"label": strings["themeLight"], "value": "light"},
                         {"label": strings["themeDark"], "value": "dark"},
                         {"label": strings["themeSystem"], "value": "system"}])),
            _field(strings["data"], html.Div(className="settings-data", children=[
                fac.AntdButton(strings["backupExport"], id=ids.BACKUP_EXPORT, block=True,
                               icon=fac.AntdIcon(icon="antd-cloud-download")),
                dcc.Upload(fac.AntdButton(strings["backupImport"], block=True,
                                          icon=fac.AntdIcon(icon="antd-cloud-upload")),
                           id=ids.BACKUP_IMPORT, accept=".json,application/json", multiple=False),
            ])),
        ],
    )
