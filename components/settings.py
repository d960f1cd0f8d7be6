"""The settings drawer: model, system prompt and presets, sampling, history length, language, theme, data."""

import feffery_antd_components as fac
from dash import dcc, html

# What a browser starts with before the person changes anything (assets/chat.js keeps its own copy, DEFAULT_SETTINGS,
# until the page's state moves to Python).
DEFAULTS = {"multiTurn": True, "systemPrompt": "", "temperature": 0.7, "historyTurns": 20, "theme": "system"}


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


def render(strings, models, default_model, lang):
    """The drawer; every value is remembered per browser by assets/chat.js (localStorage)."""
    presets = [{"label": strings["presetNone"], "value": "none"}] + [
        {"label": strings[key], "value": value}
        for key, value in (("presetTranslator", "translator"), ("presetReviewer", "reviewer"),
                           ("presetWeekly", "weekly"))]
    return fac.AntdDrawer(
        id="settings-drawer", title=strings["settings"], visible=False, width="min(420px, 100vw)",
        children=[
            _field(strings["model"], fac.AntdSelect(
                id="model-select", options=model_options(models),
                value=default_model, allowClear=False, style={"width": "100%"})),
            _field(strings["systemPrompt"], html.Div([
                fac.AntdSelect(id="settings-preset", options=presets, placeholder=strings["presets"],
                               allowClear=False, style={"width": "100%", "marginBottom": 8}),
                fac.AntdInput(id="settings-system-prompt", mode="text-area", value=DEFAULTS["systemPrompt"],
                              autoSize={"minRows": 2, "maxRows": 8}, placeholder=strings["systemPromptPlaceholder"]),
            ])),
            _field(strings["temperature"], fac.AntdSlider(
                id="settings-temperature", min=0, max=2, step=0.1, value=DEFAULTS["temperature"],
                marks={0: "0", 1: "1", 2: "2"})),
            _field(strings["maxTokens"], fac.AntdInputNumber(id="settings-max-tokens", min=1, max=128000, step=64,
                                                             precision=0, placeholder=strings["maxTokensPlaceholder"],
                                                             style={"width": "100%"})),
            _field(strings["historyTurns"], fac.AntdSlider(
                id="settings-history-turns", min=1, max=50, step=1, value=DEFAULTS["historyTurns"],
                marks={1: "1", 20: "20", 50: "50"})),
            _field(strings["language"], fac.AntdSegmented(
                id="settings-language", value=lang, block=True,
                options=[{"label": "中文", "value": "zh-CN"}, {"label": "English", "value": "en-US"}])),
            _field(strings["theme"], fac.AntdSegmented(
                id="settings-theme", value=DEFAULTS["theme"], block=True,
                options=[{"label": strings["themeLight"], "value": "light"},
                         {"label": strings["themeDark"], "value": "dark"},
                         {"label": strings["themeSystem"], "value": "system"}])),
            _field(strings["data"], html.Div(className="settings-data", children=[
                fac.AntdButton(strings["backupExport"], id="backup-export", block=True,
                               icon=fac.AntdIcon(icon="antd-cloud-download")),
                dcc.Upload(fac.AntdButton(strings["backupImport"], block=True,
                                          icon=fac.AntdIcon(icon="antd-cloud-upload")),
                           id="backup-import", accept=".json,application/json", multiple=False),
            ])),
        ],
    )
