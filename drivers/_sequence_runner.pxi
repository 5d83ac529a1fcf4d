# Included by _engine.pyx: the mock devices' sequence runner needs the engine's registers and
# kernels at C level (no Python call per physical instruction), so it is compiled into the same
# extension module.
"""The hot loop of the mock devices' fast path (:mod:`qnodeos.drivers.fast_path`), in C.

A :class:`CompiledPlan` holds one lowered NetQASM gate as typed steps (kind, qubits, duration,
error and the gate's 4x4 matrix as 32 doubles, with the Pauli-transfer form of a one-qubit
superoperator worked out once). A :class:`SequenceRunner` holds one device's clock bookkeeping in
typed arrays (when each qubit was last brought up to date and last started afresh) and its idle
model per qubit, and runs a plan with the same kernel calls, in the same order and on the same
numbers as ``MockDevice.execute`` one instruction at a time: the results are bit for bit the same.
"""

from cpython cimport array
from cpython.pycapsule cimport PyCapsule_GetPointer
from numpy.random cimport bitgen_t
from libc.stdlib cimport calloc, free
from libc.math cimport INFINITY, isinf

cdef enum:
    _K_INIT = 0
    _K_ROTATE = 1
    _K_TWO = 2
    _K_MEASURE = 3

# How a qubit's idle noise is applied.
cdef enum:
    _IDLE_NONE = 0      # no idle noise
    _IDLE_MARKOV = 1    # the engine's T1/T2 channel (MockDevice._idle)
    _IDLE_GAUSSIAN = 2  # quasi-static dephasing counted from the last fresh start (MockIonDevice._idle)
    _IDLE_PYTHON = 3    # a subclass's own _idle, called back

IDLE_NONE, IDLE_MARKOV, IDLE_GAUSSIAN, IDLE_PYTHON = _IDLE_NONE, _IDLE_MARKOV, _IDLE_GAUSSIAN, _IDLE_PYTHON

# Beyond this many ns since a qubit's fresh start, tau^2 would not fit a 64-bit integer: the
# Gaussian idle is then left to the device's Python method (exact big-integer arithmetic).
cdef long long _GAUSSIAN_MAX_TAU = 3037000499LL
# Sequences whose plans one runner keeps (a loop body has a handful; the cache starts afresh when full).
PLAN_CACHE_SIZE = 4096


ctypedef struct _Step:
    int kind
    int q
    int q1
    long long duration
    double error
    bint hp          # the superoperator has a real Pauli-transfer form (rotations)
    double m[32]     # rotation: complex superop; two-qubit gate: complex unitary
    double r[16]     # rotation: its Pauli-transfer matrix, valid if hp


cdef class CompiledPlan:
    """One instruction sequence as typed steps; ``busy_ns`` is their busy time in whole ticks."""

    cdef _Step* steps
    cdef Py_ssize_t n
    cdef readonly object busy_ns
    cdef readonly object last_instruction
    cdef readonly object sequence  # held, so the sequence's id is not reused while the plan lives
    cdef object unanswered         # (None, busy_ns): what a run without a response returns

    def __cinit__(self, sequence, list steps, busy_ns):
        """``steps``: (kind, qubit, second qubit or -1, duration_ns, error, matrix or None)."""
        cdef Py_ssize_t i
        cdef int k
        cdef cnp.ndarray arr
        cdef double* src
        self.n = len(steps)
        if self.n == 0:
            raise ValueError("a plan needs at least one step")
        self.steps = <_Step*> calloc(self.n, sizeof(_Step))
        if self.steps == NULL:
            raise MemoryError()
        self.sequence = sequence
        self.busy_ns = busy_ns
        self.unanswered = (None, busy_ns)
        self.last_instruction = sequence[len(sequence) - 1]
        for i, (kind, q, q1, duration, error, matrix) in enumerate(steps):
            st = &self.steps[i]
            st.kind = kind
            st.q = q
            st.q1 = q1
            st.duration = duration
            st.error = error
            if matrix is not None:
                arr = _square_c128(matrix, 4, "plan matrix")
                src = <double*> cnp.PyArray_DATA(arr)
                for k in range(32):
                    st.m[k] = src[k]
                if kind == _K_ROTATE:
                    st.hp = _superop_to_ptm(st.m, st.r)

    def __dealloc__(self):
        free(self.steps)


cdef class SequenceRunner:
    """Runs :class:`CompiledPlan` s on one device's qubits.

    ``last`` and ``reset_at`` are the device's own ``array('q')`` (shared, not copied: the
    ordinary path reads and writes the same numbers); ``idle`` is (mode, t1, t2) per qubit;
    ``readout`` is (error reading 0, error reading 1) per qubit."""

    cdef object device
    cdef StateEngine engine
    cdef object lock
    cdef list handles
    cdef array.array last
    cdef array.array reset_at
    cdef long long tick
    cdef Py_ssize_t nq
    cdef int* mode
    cdef double* t1
    cdef double* t2
    cdef double* readout
    cdef object rng
    cdef object idle_py
    cdef object response
    cdef object status_ok
    cdef object status_measured
    cdef bint any_python  # some qubit's idle noise is a Python callback: keep the device clock current
    cdef object space_acquire, space_release, device_acquire, device_release
    cdef object capsule, rng_acquire, rng_release
    cdef bitgen_t* bitgen
    cdef dict plans
    cdef object build
    cdef dict device_dict
    cdef bint fast_class
    cdef int last_outcome  # the reported outcome of the last measurement run

    def __cinit__(self, device, StateEngine engine, lock, list handles, array.array last,
                  array.array reset_at, long long tick, list idle, list readout, rng, idle_py,
                  response, status_ok, status_measured, build, bint fast_class):
        cdef Py_ssize_t i
        self.nq = len(handles)
        if not (len(last) == len(reset_at) == len(idle) == len(readout) == self.nq):
            raise ValueError("one entry per qubit in last, reset_at, idle and readout")
        if last.typecode != "q" or reset_at.typecode != "q":
            raise ValueError("last and reset_at must be array('q')")
        if tick <= 0:
            raise ValueError(f"tick must be positive, got {tick}")
        self.mode = <int*> calloc(self.nq + 1, sizeof(int))
        self.t1 = <double*> calloc(self.nq + 1, sizeof(double))
        self.t2 = <double*> calloc(self.nq + 1, sizeof(double))
        self.readout = <double*> calloc(2 * self.nq + 2, sizeof(double))
        if self.mode == NULL or self.t1 == NULL or self.t2 == NULL or self.readout == NULL:
            raise MemoryError()
        self.device, self.engine, self.lock, self.handles = device, engine, lock, handles
        self.last, self.reset_at, self.tick = last, reset_at, tick
        self.rng, self.idle_py = rng, idle_py
        self.space_acquire, self.space_release = lock.acquire, lock.release
        self.device_acquire, self.device_release = device._lock.acquire, device._lock.release
        # the measurement draws come from the generator's bit generator, as Generator.random does
        # (one next_double per number, under the bit generator's lock)
        self.capsule = rng.bit_generator.capsule
        self.bitgen = <bitgen_t*> PyCapsule_GetPointer(self.capsule, "BitGenerator")
        self.rng_acquire, self.rng_release = rng.bit_generator.lock.acquire, rng.bit_generator.lock.release
        self.plans = {}
        self.build = build
        self.device_dict = device.__dict__
        self.fast_class = fast_class
        self.response, self.status_ok, self.status_measured = response, status_ok, status_measured
        for i in range(self.nq):
            self.mode[i], self.t1[i], self.t2[i] = idle[i]
            self.readout[2 * i], self.readout[2 * i + 1] = readout[i]
            if self.mode[i] == _IDLE_PYTHON:
                self.any_python = True

    def __dealloc__(self):
        free(self.mode)
        free(self.t1)
        free(self.t2)
        free(self.readout)

    cdef int _idle(self, int q, long long t_from, long long t_to) except -1:
        """Idle noise of qubit q over [t_from, t_to], as the device's ``_idle`` computes it."""
        cdef int mode = self.mode[q]
        cdef object h
        cdef _Register reg
        cdef long long start, tau0, tau1
        cdef double keep, p
        if mode == _IDLE_NONE:
            return 0
        if mode == _IDLE_PYTHON:
            self.idle_py(q, t_from, t_to)
            return 0
        h = self.handles[q]
        if mode == _IDLE_MARKOV:
            reg = self.engine._reg(h)
            self.engine._idle_bit(reg, reg.bit(h), <double> (t_to - t_from), self.t1[q], self.t2[q])
            return 0
        # Gaussian: population decay (T1 only), then the dephasing share of [tau0, tau1]
        start = self.reset_at.data.as_longlongs[q]
        tau0 = t_from - start if t_from > start else 0
        tau1 = t_to - start if t_to > start else 0
        if tau1 > _GAUSSIAN_MAX_TAU:
            self.idle_py(q, t_from, t_to)
            return 0
        if not isinf(self.t1[q]):
            reg = self.engine._reg(h)
            self.engine._idle_bit(reg, reg.bit(h), <double> (t_to - t_from), self.t1[q], INFINITY)
        if not isinf(self.t2[q]):
            keep = exp(-(<double> (tau1 * tau1 - tau0 * tau0)) / (self.t2[q] * self.t2[q]))
            p = (1.0 - keep) / 2.0
            reg = self.engine._reg(h)
            self.engine._set_s(1.0, 0.0, 1.0 - 2.0 * p, 0.0, 1.0)
            self.engine._run1(reg, reg.bit(h))
        return 0

    def execute_sequence(self, sequence, bint respond=True):
        """``MockDevice.execute_sequence``: perform ``sequence`` as ``execute`` would, one
        instruction after the other, under the device's lock; the last response (None unless
        ``respond``) and the busy time of all of them in whole ticks. None (nothing done) when it
        needs the ordinary path: no plan (``build`` returned None), or ``execute`` replaced by the
        device's class or on the instance (whatever wraps it must see every instruction)."""
        cdef object plan
        if not self.fast_class or "execute" in self.device_dict:
            return None
        self.device_acquire()
        try:
            plan = self._plan(sequence)
            if plan is None:
                return None
            if not respond:
                self._run(<CompiledPlan> plan, False)
                return (<CompiledPlan> plan).unanswered
            return self._run(<CompiledPlan> plan, True), (<CompiledPlan> plan).busy_ns
        finally:
            self.device_release()

    def measure_sequence(self, sequence):
        """``MockDevice.measure_sequence``: :meth:`execute_sequence` for a sequence that ends in a
        measurement, with the reported outcome instead of a response: (outcome, busy ns), or None
        (nothing done) when it needs the ordinary path or does not end in a measurement."""
        cdef object plan
        if not self.fast_class or "execute" in self.device_dict:
            return None
        self.device_acquire()
        try:
            plan = self._plan(sequence)
            if plan is None or (<CompiledPlan> plan).steps[(<CompiledPlan> plan).n - 1].kind != _K_MEASURE:
                return None
            self._run(<CompiledPlan> plan, False)
            return self.last_outcome, (<CompiledPlan> plan).busy_ns
        finally:
            self.device_release()

    cdef object _plan(self, sequence):
        """The plan of ``sequence`` (built on first use), None if it needs the ordinary path."""
        cdef object key = <size_t> <void*> sequence  # id(sequence); the entry holds it: no id is reused
        cdef object entry = self.plans.get(key)
        if entry is not None and (<tuple> entry)[0] is sequence:
            return (<tuple> entry)[1]
        plan = self.build(sequence)
        if len(self.plans) >= PLAN_CACHE_SIZE:
            self.plans.clear()
        self.plans[key] = (sequence, plan)
        return plan

    def run(self, CompiledPlan plan, bint respond=True):
        """Perform ``plan`` as ``execute`` would, one step after the other; the caller holds the
        device's lock. Returns the last step's response (None unless ``respond``)."""
        return self._run(plan, respond)

    cdef object _run(self, CompiledPlan plan, bint respond):
        cdef object dev = self.device
        cdef StateEngine engine = self.engine
        cdef long long tick = self.tick
        cdef long long now = dev._now
        cdef long long start = 0, end = 0
        cdef long long* last = self.last.data.as_longlongs
        cdef long long* reset_at = self.reset_at.data.as_longlongs
        cdef Py_ssize_t i
        cdef int q, r, j, k, outcome = 0, true_outcome
        cdef _Step* st
        cdef _Register reg
        cdef object h, h1
        cdef double u, v, p1, prob
        cdef Py_ssize_t pos
        cdef double* a
        cdef Py_ssize_t d, bA, bB
        cdef bint herm
        self.space_acquire()
        try:
            for i in range(plan.n):
                st = &plan.steps[i]
                q = st.q
                start = now if now % tick == 0 else (now // tick + 1) * tick
                end = start + st.duration
                now = end
                if self.any_python:
                    dev._now = now
                if st.kind == _K_ROTATE:
                    if start > last[q]:
                        self._idle(q, last[q], start)
                    h = self.handles[q]
                    reg = engine._reg(h)
                    if not st.hp:
                        reg.herm = False
                    a = reg.data
                    d = reg.dim
                    bA = reg.bit(h)
                    if d >= _NOGIL_DIM:
                        with nogil:
                            _superop1q(a, d, bA, st.m, st.r, st.hp)
                    else:
                        _superop1q(a, d, bA, st.m, st.r, st.hp)
                    last[q] = end
                elif st.kind == _K_TWO:
                    for j in range(2):
                        r = q if j == 0 else st.q1
                        if start > last[r]:
                            self._idle(r, last[r], start)
                            last[r] = start
                    h = self.handles[q]
                    h1 = self.handles[st.q1]
                    reg = engine._pair(h, h1)
                    a = reg.data
                    d = reg.dim
                    bA = reg.bit(h)
                    bB = reg.bit(h1)
                    herm = reg.herm and _halving
                    if d >= _NOGIL_DIM:
                        with nogil:
                            _unitary2q(a, d, bA, bB, st.m, st.error, herm)
                    else:
                        _unitary2q(a, d, bA, bB, st.m, st.error, herm)
                    last[q] = end
                    last[st.q1] = end
                elif st.kind == _K_INIT:
                    h = self.handles[q]
                    reg = engine._detach(h)
                    if reg.n == 1 and cnp.PyArray_ISWRITEABLE(reg.mat):  # |0><0| in place, as _ket0_dm() builds it
                        reg.data[0] = 1.0
                        for k in range(1, 8):
                            reg.data[k] = 0.0
                    else:
                        reg._bind(_ket0_dm())
                    reg.herm = True
                    if st.error > 0:
                        engine._set_s(1.0 - 0.5 * st.error, 0.5 * st.error, 1.0 - st.error, 0.5 * st.error,
                                      1.0 - 0.5 * st.error)
                        engine._run1(reg, reg.bit(h))
                    last[q] = end
                    reset_at[q] = end
                else:
                    if start > last[q]:
                        self._idle(q, last[q], start)
                    self.rng_acquire()  # the same two draws as MockDevice._measure's rng.random(2)
                    u = self.bitgen.next_double(self.bitgen.state)
                    v = self.bitgen.next_double(self.bitgen.state)
                    self.rng_release()
                    h = self.handles[q]
                    reg = engine._reg(h)
                    p1 = engine._p1(reg, reg.bit(h))  # SharedStateSpace.measure, then engine.project
                    true_outcome = 1 if u < p1 else 0
                    if (p1 if true_outcome else 1.0 - p1) < _TINY_PROB:
                        true_outcome ^= 1
                    pos = reg.qubits.index(h)
                    p1 = engine._p1(reg, (<Py_ssize_t> 1) << (reg.n - 1 - pos))
                    prob = p1 if true_outcome else 1.0 - p1
                    if prob < _TINY_PROB:
                        raise ValueError(f"cannot project qubit {h!r} onto |{true_outcome}>: its probability is "
                                         f"{prob:.3g}")
                    engine._collapse(reg, h, pos, true_outcome, prob)
                    outcome = true_outcome ^ (1 if v < self.readout[2 * q + true_outcome] else 0)
                    self.last_outcome = outcome
                    last[q] = end
                    reset_at[q] = end
        finally:
            self.space_release()
            dev._now = now
        if not respond:
            return None
        if plan.steps[plan.n - 1].kind == _K_MEASURE:
            return self.response(plan.last_instruction, self.status_measured, start, end, outcome=outcome)
        return self.response(plan.last_instruction, self.status_ok, start, end)
