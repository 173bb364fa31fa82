"""Domain errors. The CLI prints them as one line; the API maps them to the OpenAI envelope."""


class LlmemuError(Exception):
    """Base of every error the emulator raises on purpose."""


class ConfigError(LlmemuError):
    """A scenario, preset or option is invalid. The message names the field and the fix."""


class CapacityError(ConfigError):
    """The model (or one request) does not fit in the emulated memory."""
