# This file is part of the water utility modules.
from . import application_routes, routes

__all__ = [application_routes, routes]
