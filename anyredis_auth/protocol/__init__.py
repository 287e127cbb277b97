"""Sans-IO RESP2/RESP3 codec: commands in, bytes out; bytes in, replies out.

No I/O, no clock, no async. See ``Parser`` for the reply representation.
"""

from .._errors import ProtocolError, ResponseError
from ._encoder import CommandArg, encode_command, encode_commands
from ._parser import Parser, hiredis_available
from ._values import NEED_DATA, NeedData, Push

__all__ = [
    "NEED_DATA",
    "CommandArg",
    "NeedData",
    "Parser",
    "ProtocolError",
    "Push",
    "ResponseError",
    "encode_command",
    "encode_commands",
    "hiredis_available",
]
