# This file is part of the water utility modules.
"""The wire protocols of the payment gateways, without the ORM: one client
per provider, all giving the same neutral results and errors."""
from .base import (
    GatewayError, ProtocolError, Redirect, Result, RetryableError, Status)
from .mellat import MellatClient
from .sadad import SadadClient
from .zarinpal import ZarinpalClient

__all__ = [
    'GatewayError', 'MellatClient', 'ProtocolError', 'Redirect', 'Result',
    'RetryableError', 'SadadClient', 'Status', 'ZarinpalClient']
