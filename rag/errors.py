"""The error types the library raises; the CLI and API translate them at the edges."""


class RagError(Exception):
    """Base of every error this package raises on purpose."""


class TranscriptError(RagError):
    """A transcript file cannot be read or parsed (the message names the file)."""


class IndexMissingError(RagError):
    """No index exists where one was expected."""


class IndexMismatchError(RagError):
    """The index on disk was built by another model or format version, or is damaged."""


class IndexDamagedError(IndexMismatchError):
    """A file of the index on disk is missing, unreadable or not what its manifest recorded: damage
    the next build repairs, unlike another model or format (the user's choice: `--rebuild`)."""


class ModelError(RagError):
    """The embedding model cannot be provisioned or loaded."""


class DiskFullError(RagError):
    """A write ran out of space (or quota); the message names the path, and the live index is unchanged."""
