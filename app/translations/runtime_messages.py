"""Messages that reach gettext only through a variable, so pybabel cannot see them where they live.

app.core.web.error_response() calls ``_(ERROR_TITLES[status])`` and ``_(ERROR_MESSAGES[status])``; the
strings are repeated here (with babel's default no-op marker ``N_``) so that ``pybabel extract`` puts them
in messages.pot and ``pybabel update`` keeps them in the catalogs. This module is never imported.
tests/test_i18n.py checks that every value of those dicts is translated: when one is added there, add it here.
"""


def N_(message: str) -> str:
    return message


RUNTIME_MESSAGES = (
    # app.core.web.ERROR_TITLES, and the fallback title of error_response()
    N_("请求有误"),
    N_("请先登录"),
    N_("无权访问"),
    N_("页面不存在"),
    N_("不支持该请求方法"),
    N_("操作冲突"),
    N_("提交内容过大"),
    N_("请求过于频繁"),
    N_("服务器内部错误"),
    N_("出错了"),
    # app.core.web.ERROR_MESSAGES
    N_("操作冲突，请刷新后重试。"),
    N_("提交的内容无法处理，请返回检查后重试。"),
    N_("您访问的页面不存在，或您无权查看。"),
    N_("该地址不接受这种请求。"),
    N_("上传或提交的内容超过了大小限制。"),
    N_("操作过于频繁，请稍后再试。"),
    N_("系统出现问题，已记录。请稍后重试或联系管理员。"),
)
