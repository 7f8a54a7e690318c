# This file is part of the water utility modules.
from . import routes

__all__ = [routes]
