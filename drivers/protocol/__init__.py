"""The qnodeos controller protocol: a shim and a real-time controller (ADwin/FPGA sequencer) agree on it.

Pure encoding and decoding, no I/O, in three modules: :mod:`.codec` (instructions, responses, results,
capabilities), :mod:`.grammar` (commands, program messages, errors, identity) and :mod:`.framing` (the
serial link's binary frames). The shim (:mod:`qnodeos.drivers.controller_shim`) and the emulated
firmware (:mod:`qnodeos.firmware_stubs`) import the same functions, so the two ends cannot drift apart.
This package re-exports their public names.

Text protocol (VISA shim, one message per line, ``\\n``-terminated, UTF-8)
------------------------------------------------------------------------------
SCPI-flavoured: headers are case-insensitive, only queries (ending in ``?``) answer, and a command
that fails answers nothing but queues an error read with ``SYST:ERR?``. Unlike strict SCPI a failed
*query* still answers, with ``ERR <code>,"<message>"``, so a host never waits out a timeout for a
reply that is not coming. As in SCPI, one line may carry several commands separated by ``;`` (a
*program message*); the replies of its queries come back on one line, joined by ``;``. The shims send
each exchange as one such line ending in a single query, so it costs one network round trip (and
never waits on Nagle's algorithm, which pyvisa-py's sockets leave enabled); a long upload is split
into messages under 4 KB, each but the last acknowledged with ``*OPC?`` (:func:`pack_program`).
No argument contains ``;`` (the compact encoding percent-encodes it; JSON instructions must not
contain it either).

==========================  =====================================================================
``*IDN?``                   ``<maker>,<model>,<serial>,<firmware>`` e.g. ``QNODEOS,QCTRL-EMU,SN0001,1.0``
``*RST``                    every qubit back to \\|0>, entanglement forgotten; the clock keeps running
``*CLS``                    clear the error queue
``*OPC?``                   ``1`` once every earlier command is done
``CAPS?``                   the device :class:`~qnodeos.hal.Capabilities` as one line of JSON
``SYST:TIME?``              the device clock in ns
``SYST:CLOCK?``             ``SIMULATED`` (clock moves only with instructions, as on an emulator) or ``REAL``
``SYST:ERR?``               oldest queued error ``<code>,"<message>"``; ``0,"No error"`` when empty
``SEQ:CLEAR``               discard the staged (not yet armed) sequence
``SEQ:APPEND <i>[|<i>…]``   stage instructions (compact encoding below, or one JSON object each)
``SEQ:ARM <id>,<count>``    freeze the staged sequence under ``id``; ``count`` must match what was staged
``*TRG``                    run the armed sequence — at most once per ``id``, whatever is re-sent
``SEQ:STAT? <id>``          ``DONE`` (results held), ``ARMED`` (not run yet) or ``UNKNOWN``
``SEQ:RESULTS? <id>``       ``<id> <n>|<r1>|…|<rn>`` (compact responses); ``ERR …`` if ``id`` has not run
``SEQ:RUN? <id> <i>|<i>…``  stage, arm, trigger and answer the results in one exchange (used framed)
==========================  =====================================================================

Sequence ids (``[A-Za-z0-9._-]{1,64}``) are chosen by the host and remembered by the controller for
its last :data:`RESULTS_KEPT` sequences. They make a reconnect safe: after a dropped link the host asks
``SEQ:STAT? <id>``; ``DONE`` means fetch the results, anything else means upload and trigger again —
the controller never runs one id twice, so no result is lost or duplicated.

The compact encodings of instructions and responses are described in :mod:`.codec`; the framed
binary protocol of the serial link in :mod:`.framing` — there every command answers (``OK`` or
``ERR <code>,"<message>"``) and ``SEQ:RUN? <id> <i>|<i>…`` uploads, runs and returns results at once.
"""
from .codec import (
    append_commands,
    check_seq_id,
    decode_capabilities,
    decode_instruction,
    decode_instructions,
    decode_response,
    decode_results,
    encode_capabilities,
    encode_instruction,
    encode_instructions,
    encode_response,
    encode_results,
    quote_token,
    unquote_token,
)
from .framing import (
    FLAG_REPLY,
    HEADER_SIZE,
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    SEQ_MODULO,
    START,
    TRAILER_SIZE,
    Frame,
    FrameDecoder,
    encode_frame,
)
from .grammar import (
    ERR_EXECUTION,
    ERR_HARDWARE,
    ERR_ILLEGAL_VALUE,
    ERR_MISSING_PARAMETER,
    ERR_SETTINGS_CONFLICT,
    ERR_SYNTAX,
    ERR_TOO_MUCH_DATA,
    ERR_UNDEFINED_HEADER,
    IDN_MAKER,
    NO_ERROR,
    RESULTS_KEPT,
    TERMINATION,
    ControllerError,
    format_error,
    format_idn,
    framed_error,
    framed_ok,
    join_program,
    pack_program,
    parse_error,
    parse_framed_reply,
    parse_idn,
    split_command,
    split_program,
)

__all__ = [name for name in dir() if not name.startswith("_")]
