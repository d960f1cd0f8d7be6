"""The access-code dialog, shown when the server sets ACCESS_CODE and the browser has no valid code."""

import feffery_antd_components as fac


def render(strings):
    """A small modal; the code is kept in the browser's localStorage by assets/chat.js."""
    return fac.AntdModal(
        fac.AntdInput(id="access-code-input", mode="password", placeholder=strings["accessCodePlaceholder"]),
        id="access-code-modal", title=strings["accessCodeTitle"], visible=False, okText=strings["accessCodeOk"],
        renderFooter=True, maskClosable=False,
    )
