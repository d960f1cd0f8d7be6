"""Every visible string, in Chinese (the default, as the original app) and English."""

LANGUAGES = ("zh-CN", "en-US")
DEFAULT_LANGUAGE = "zh-CN"

STRINGS = {
    "zh-CN": {
        "title": "在线问答机器人",
        "subtitle": "多轮对话 · 流式回答 · 导出 Markdown",
        "multiTurn": "多轮对话",
        "multiTurnHelp": "开启后模型会记住本次对话中之前的问题",
        "export": "导出",
        "clear": "清空",
        "send": "发送",
        "stop": "停止",
        "retry": "重试",
        "placeholder": "输入问题，Enter 发送，Shift+Enter 换行",
        "welcome": "你好！有什么可以帮你？",
        "welcomeHint": "回答以 Markdown 渲染，代码块可一键复制。",
        "embeddedNotice": "未配置 API Key：正在使用内置的小模型 SmolLM2（英文较好，中文较弱）。",
        "emptyQuestion": "请输入问题",
        "tooLong": "问题有 {n} 个字符，超过上限 {max}，请缩短后再发送",
        "stopped": "（已停止生成）",
        "reloaded": "页面在回答过程中被刷新或关闭，回答不完整。",
        "storageUnavailable": "浏览器存储已满或不可用（如隐私模式）：本次对话只保存在当前页面，刷新后会丢失。",
        "trimmed": "对话较长：最早的 {n} 条消息超出了模型的上下文长度，这次没有发送给模型。",
        "interrupted": "回答中断：",
        "model": "模型",
        "switchLanguage": "English",
        "accessCodeTitle": "请输入访问码",
        "accessCodePlaceholder": "访问码",
        "accessCodeOk": "确定",
    },
    "en-US": {
        "title": "Chat Assistant",
        "subtitle": "Multi-turn · streaming · Markdown export",
        "multiTurn": "Multi-turn",
        "multiTurnHelp": "When on, the model remembers the earlier questions of this conversation",
        "export": "Export",
        "clear": "Clear",
        "send": "Send",
        "stop": "Stop",
        "retry": "Retry",
        "placeholder": "Ask anything. Enter sends, Shift+Enter adds a line",
        "welcome": "Hello! How can I help?",
        "welcomeHint": "Answers render as Markdown; code blocks have a copy button.",
        "embeddedNotice": "No API key configured: answering with the built-in small model SmolLM2.",
        "emptyQuestion": "Please type a question",
        "tooLong": "The question has {n} characters, over the limit of {max}; please shorten it",
        "stopped": "(generation stopped)",
        "reloaded": "The page was reloaded or closed during the answer; it is incomplete.",
        "storageUnavailable": "Browser storage is full or unavailable (e.g. private mode): this conversation lives only in this page and a reload loses it.",
        "trimmed": "Long conversation: the {n} oldest messages did not fit the model's context and were not sent.",
        "interrupted": "Answer interrupted:",
        "model": "Model",
        "switchLanguage": "中文",
        "accessCodeTitle": "Enter the access code",
        "accessCodePlaceholder": "Access code",
        "accessCodeOk": "OK",
    },
}

# Messages for the API's error codes; the page never shows raw upstream bodies or stack traces.
ERRORS = {
    "zh-CN": {
        "default": "出错了，请稍后重试。",
        "network_error": "网络连接失败，请检查网络后重试。",
        "stream_interrupted": "连接中断，回答不完整。",
        "empty_answer": "模型返回了空回答。",
        "upstream_timeout": "模型服务响应超时。",
        "upstream_unreachable": "无法连接到模型服务。",
        "upstream_auth_failed": "模型服务拒绝了配置的 API Key，请联系管理员。",
        "upstream_rate_limited": "模型服务繁忙（限流），请稍后重试。",
        "upstream_server_error": "模型服务出错，请稍后重试。",
        "upstream_rejected": "模型服务拒绝了这次请求。",
        "upstream_stream_error": "模型服务在回答过程中出错。",
        "upstream_bad_response": "模型服务返回了无法解析的内容。",
        "model_not_found": "模型不存在或不可用。",
        "embedded_model_unavailable": "内置模型不可用，请安装 requirements-embedded.txt 或配置 OPENAI_API_KEY。",
        "input_too_long": "问题太长，请缩短后再发送。",
        "context_too_long": "问题超过了模型的上下文长度。",
        "empty_question": "请输入问题。",
        "invalid_access_code": "访问码错误或缺失。",
        "rate_limited": "请求太频繁，请稍后再试。",
    },
    "en-US": {
        "default": "Something went wrong; please try again.",
        "network_error": "Network error; check your connection and retry.",
        "stream_interrupted": "The connection was cut; the answer is incomplete.",
        "empty_answer": "The model returned an empty answer.",
        "upstream_timeout": "The model server timed out.",
        "upstream_unreachable": "Cannot reach the model server.",
        "upstream_auth_failed": "The model server rejected the configured API key; contact the admin.",
        "upstream_rate_limited": "The model server is busy (rate limited); retry shortly.",
        "upstream_server_error": "The model server failed; retry shortly.",
        "upstream_rejected": "The model server rejected this request.",
        "upstream_stream_error": "The model server failed during the answer.",
        "upstream_bad_response": "The model server sent an unreadable response.",
        "model_not_found": "This model does not exist or is unavailable.",
        "embedded_model_unavailable": "The built-in model is unavailable: install requirements-embedded.txt or set OPENAI_API_KEY.",
        "input_too_long": "The question is too long; please shorten it.",
        "context_too_long": "The question is longer than the model's context window.",
        "empty_question": "Please type a question.",
        "invalid_access_code": "The access code is wrong or missing.",
        "rate_limited": "Too many requests; please wait a moment.",
    },
}


def pick_language(requested) -> str:
    """A supported language for a ?lang= value (default Chinese, as the original app)."""
    for lang in LANGUAGES:
        if requested and requested.lower() in (lang.lower(), lang[:2].lower()):
            return lang
    return DEFAULT_LANGUAGE
