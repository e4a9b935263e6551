"""The weak-to-strong lab's error: its own module, so every W2S module can raise it without importing another."""


class W2SError(Exception):
    """A weak-to-strong experiment that cannot run as asked; the message says what to change."""
