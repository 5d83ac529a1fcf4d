"""NetQASM's EPR array layouts (netqasm.sdk.build_epr / netqasm.qlink_compat), as index constants.

create_epr's argument array has 22 entries (the link-layer create request without remote node and
purpose id); each generated pair gets 10 result entries, whose meaning differs for create-and-keep (K)
and measure-directly (M) requests.
"""
from __future__ import annotations

REQUEST_ARGS = 22
RESULT_FIELDS = 10

TYPE_K, TYPE_M, TYPE_R = 0, 1, 2

# argument array
ARG_TYPE, ARG_NUMBER = 0, 1
ARG_RANDOM_BASIS_LOCAL, ARG_RANDOM_BASIS_REMOTE = 2, 3
ARG_MIN_FIDELITY, ARG_TIME_UNIT, ARG_MAX_TIME = 4, 5, 6
ARG_ROTATION_LOCAL = (14, 15, 16)
ARG_ROTATION_REMOTE = (17, 18, 19)
ARG_AXES_LOCAL, ARG_AXES_REMOTE = 20, 21

# result entries, K layout
K_TYPE, K_CREATE_ID, K_QUBIT_ID, K_DIRECTION, K_SEQUENCE, K_PURPOSE, K_REMOTE_NODE, K_GOODNESS, K_GOODNESS_TIME, \
    K_BELL_STATE = range(10)
# result entries, M layout
M_TYPE, M_CREATE_ID, M_OUTCOME, M_BASIS, M_DIRECTION, M_SEQUENCE, M_PURPOSE, M_REMOTE_NODE, M_GOODNESS, \
    M_BELL_STATE = range(10)

# random bases (qlink_compat.RandomBasis) and reported bases (qlink_compat.Basis)
RANDOM_NONE, RANDOM_XZ, RANDOM_XYZ, RANDOM_CHSH = 0, 1, 2, 3
BASIS_Z, BASIS_X, BASIS_Y = 0, 1, 2

# measurement axes of the rotation triples (build_epr.QubitMeasureAxes): XYX, YZY, ZXZ
AXES = {0: ("x", "y", "x"), 1: ("y", "z", "y"), 2: ("z", "x", "z")}

# time units of max_time: microseconds, milliseconds, seconds
TIME_UNIT_S = {0: 1e-6, 1: 1e-3, 2: 1.0}
