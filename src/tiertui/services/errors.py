class ServiceError(RuntimeError):
    """A request that cannot be carried out; the message says why, for a person."""
