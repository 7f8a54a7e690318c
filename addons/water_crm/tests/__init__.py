# This file is part of the water utility modules.
from trytond import config


def set_water(option, value):
    "Set an option of the [water] section of the server's configuration"
    if not config.has_section('water'):
        config.add_section('water')
    config.set('water', option, value)
