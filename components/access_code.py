"""The access-code dialog, shown when the server sets ACCESS_CODE and the browser has no valid code."""

import feffery_antd_components as fac


def render(strings, visible):
    """A small modal; the code, once right, is remembered by the session cookie."""
    return fac.AntdModal(
        fac.AntdInput(id="access-code-input", mode="password", placeholder=strings["accessCodePlaceholder"]),
        id="access-code-modal", title=strings["accessCodeTitle"], visible=visible, okText=strings["accessCodeOk"],
        renderFooter=True, maskClosable=False,
    )
