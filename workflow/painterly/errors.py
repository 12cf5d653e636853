"""The one exception type a user sees: its message is a single line naming the input and the fix."""


class PainterlyError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""
