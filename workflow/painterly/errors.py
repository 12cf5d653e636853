"""The one exception type a user sees: its message is a single line naming the input and the fix."""


class PainterlyError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""


# How the command line prints one: the last line of a failed workflow job's log starts so.
ERROR_PREFIX = "painterly: error: "
