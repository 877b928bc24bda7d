"""The one exception type that means "the user gave us something we cannot use"."""


class MimicMotionError(Exception):
    """A problem with the user's input, files or settings.

    The message is written for people: it names the file or option and what is wrong with it.
    The command line prints it on one line and exits with code 2; library callers can catch it.
    """
