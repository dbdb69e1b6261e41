"""One error type for everything `fsapp conf` refuses, always naming the file (and line
or variable) at fault and what to do about it."""


class ConfError(ValueError):
    pass
