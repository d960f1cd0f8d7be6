"""The access-code dialog, shown when the server sets ACCESS_CODE and the browser has no valid code."""

import feffery_antd_components as fac

from components import ids


def render(strings, visible):
    """A small modal; the code, once right, is remembered by the session cookie."""
    return fac.AntdModal(
        fac.AntdInput(id=ids.ACCESS_CODE_INPUT, mode="password", placeholder=strings["accessCodePlaceholder"]),
        id=ids.ACCESS_CODE_MODAL, title=strings["accessCodeTitle"], visible=visible, okText=strings["accessCodeOk"],
        renderFooter=True, maskClosable=False,
    )
