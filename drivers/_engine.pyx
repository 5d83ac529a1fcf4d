# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Density-matrix physics engine of the mock quantum devices.

Qubits live in *registers*: groups of qubits that share one density matrix.
A fresh qubit is its own one-qubit register; two-qubit gates and
``set_state`` merge registers (tensor product), measurement splits the
measured qubit out again.  Keeping unentangled qubits apart keeps the
matrices small, which is what makes a mock node with tens of qubits cheap.

Ordering convention: a register's matrix over qubits ``(q_a, q_b, ...)`` is
big-endian -- the first qubit is the most significant bit of the basis index
and ``|0>`` is the first basis vector.

Every local channel is applied as ONE in-place pass over the register's
matrix: for a one-qubit channel the matrix is viewed as 2x2 blocks (the
target qubit's bit in the row and in the column index), for a two-qubit gate
as 4x4 blocks, and each block is transformed in registers.  Kernel families,
chosen at run time from what the CPU has:

* portable: typed Cython loops (any CPU, any compiler);
* AVX2+FMA and AVX-512: C with intrinsics (below), several blocks side by
  side in the lanes of a vector register.  One-qubit channels go through
  their real Pauli-transfer matrix (half the multiplications of the complex
  superoperator; every physical channel has one); the two-qubit kernel
  exploits rho = rho^dag while the matrix is small enough to be
  compute-bound.

All compute the same map (up to rounding); ``_set_simd(level)`` and
``_set_halving`` select them for tests and benchmarks.  The kernels run with
flush-to-zero on, so decayed coherences never hit slow subnormal arithmetic.
"""

import numpy as np
cimport numpy as cnp
from libc.math cimport exp, isfinite, sqrt
from cpython.list cimport PyList_GET_ITEM

cnp.import_array()

cdef extern from *:
    """
    /* SIMD kernels, selected at run time.  AVX2: two neighbouring blocks
     * side by side, one per 128-bit lane of a 256-bit register (a lane holds
     * one complex number, re then im); AVX-512: four.  The per-block
     * arithmetic is that of the portable kernel. */
    #if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    #include <immintrin.h>
    #define QN_SIMD_BUILT 1
    #define QN_AVX2 __attribute__((target("avx2,fma")))
    #define QN_AVX512 __attribute__((target("avx512f")))

    /* 0 = portable only, 1 = AVX2+FMA, 2 = AVX-512F as well. */
    static int qn_cpu_level(void) {
        __builtin_cpu_init();
        if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return 0;
        return __builtin_cpu_supports("avx512f") ? 2 : 1;
    }

    /* Flush-to-zero / denormals-are-zero while a kernel runs: decaying
     * coherences pass through the subnormal range, where x86 arithmetic is
     * ~100x slower; values below 2.2e-308 are physically zero anyway. */
    static inline unsigned int qn_ftz_enter(void) {
        unsigned int old = _mm_getcsr();
        _mm_setcsr(old | 0x8040u);
        return old;
    }
    static inline void qn_ftz_leave(unsigned int old) { _mm_setcsr(old); }

    /* Complex multiply-accumulate pieces: acc_r += re(s) * v,
     * acc_i += im(s) * swap(v); the product is addsub(acc_r, acc_i). */
    #define QN_SWAP(v) _mm256_permute_pd((v), 0x5)

    /* One 2x2 block pair: v[0..3] = vec(M) per lane, s = 4x4 superop as
     * 16 (re, im) pairs pre-broadcast into sr/si. */
    static inline QN_AVX2 void qn_blk1(__m256d *v, const __m256d *sr, const __m256d *si) {
        __m256d w0 = QN_SWAP(v[0]), w1 = QN_SWAP(v[1]), w2 = QN_SWAP(v[2]), w3 = QN_SWAP(v[3]);
        __m256d v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3];
        for (int k = 0; k < 4; k++) {
            __m256d ar = _mm256_mul_pd(sr[4*k], v0);
            __m256d ai = _mm256_mul_pd(si[4*k], w0);
            ar = _mm256_fmadd_pd(sr[4*k+1], v1, ar);
            ai = _mm256_fmadd_pd(si[4*k+1], w1, ai);
            ar = _mm256_fmadd_pd(sr[4*k+2], v2, ar);
            ai = _mm256_fmadd_pd(si[4*k+2], w2, ai);
            ar = _mm256_fmadd_pd(sr[4*k+3], v3, ar);
            ai = _mm256_fmadd_pd(si[4*k+3], w3, ai);
            v[k] = _mm256_addsub_pd(ar, ai);
        }
    }

    /* In-place 1-qubit superoperator on a d x d matrix (d >= 4); b is the
     * target's bit value in the basis index. */
    static QN_AVX2 void qn_superop1q_avx2(double *a, Py_ssize_t d, Py_ssize_t b, const double *s) {
        __m256d sr[16], si[16], v[4];
        for (int k = 0; k < 16; k++) {
            sr[k] = _mm256_set1_pd(s[2*k]);
            si[k] = _mm256_set1_pd(s[2*k+1]);
        }
        const Py_ssize_t rs = 2*d, ob = 2*b;
        for (Py_ssize_t ih = 0; ih < d; ih += 2*b) {
            for (Py_ssize_t i0 = ih; i0 < ih + b; i0++) {
                double *r0 = a + i0*rs, *r1 = r0 + b*rs;
                if (b != 1) {
                    /* lanes = columns x, x+1 (bit 0 is not the target) */
                    for (Py_ssize_t jh = 0; jh < d; jh += 2*b) {
                        for (Py_ssize_t x = 2*jh; x < 2*(jh + b); x += 4) {
                            v[0] = _mm256_loadu_pd(r0 + x);
                            v[1] = _mm256_loadu_pd(r0 + x + ob);
                            v[2] = _mm256_loadu_pd(r1 + x);
                            v[3] = _mm256_loadu_pd(r1 + x + ob);
                            qn_blk1(v, sr, si);
                            _mm256_storeu_pd(r0 + x, v[0]);
                            _mm256_storeu_pd(r0 + x + ob, v[1]);
                            _mm256_storeu_pd(r1 + x, v[2]);
                            _mm256_storeu_pd(r1 + x + ob, v[3]);
                        }
                    }
                } else {
                    /* target is bit 0: lanes = column pairs (x, x+1), (x+2, x+3) */
                    for (Py_ssize_t x = 0; x < 2*d; x += 8) {
                        __m256d p = _mm256_loadu_pd(r0 + x), q = _mm256_loadu_pd(r0 + x + 4);
                        __m256d r = _mm256_loadu_pd(r1 + x), t = _mm256_loadu_pd(r1 + x + 4);
                        v[0] = _mm256_permute2f128_pd(p, q, 0x20);
                        v[1] = _mm256_permute2f128_pd(p, q, 0x31);
                        v[2] = _mm256_permute2f128_pd(r, t, 0x20);
                        v[3] = _mm256_permute2f128_pd(r, t, 0x31);
                        qn_blk1(v, sr, si);
                        _mm256_storeu_pd(r0 + x, _mm256_permute2f128_pd(v[0], v[1], 0x20));
                        _mm256_storeu_pd(r0 + x + 4, _mm256_permute2f128_pd(v[0], v[1], 0x31));
                        _mm256_storeu_pd(r1 + x, _mm256_permute2f128_pd(v[2], v[3], 0x20));
                        _mm256_storeu_pd(r1 + x + 4, _mm256_permute2f128_pd(v[2], v[3], 0x31));
                    }
                }
            }
        }
    }

    /* Hermiticity-preserving superoperators act on the Pauli coefficients
     * of a 2x2 block through a REAL 4x4 matrix (the Pauli transfer matrix),
     * a real-times-complex product instead of complex-times-complex: half
     * the multiplications.  c = (M00+M11, M00-M11, M01+M10, i(M01-M10));
     * c' = R c; M00' = c0'+c1', M11' = c0'-c1', M01' = c2'-i c3',
     * M10' = c2'+i c3'.  r holds R row-major (scalings folded in). */
    static inline QN_AVX2 __m256d qn_times_i(__m256d v) {
        return _mm256_xor_pd(QN_SWAP(v), _mm256_set_pd(0.0, -0.0, 0.0, -0.0));
    }

    static inline QN_AVX2 void qn_blk1_ptm(__m256d *v, const __m256d *r) {
        __m256d c0 = _mm256_add_pd(v[0], v[3]);
        __m256d c1 = _mm256_sub_pd(v[0], v[3]);
        __m256d c2 = _mm256_add_pd(v[1], v[2]);
        __m256d c3 = qn_times_i(_mm256_sub_pd(v[1], v[2]));
        __m256d o[4];
        for (int k = 0; k < 4; k++) {
            __m256d acc = _mm256_mul_pd(r[4*k], c0);
            acc = _mm256_fmadd_pd(r[4*k+1], c1, acc);
            acc = _mm256_fmadd_pd(r[4*k+2], c2, acc);
            o[k] = _mm256_fmadd_pd(r[4*k+3], c3, acc);
        }
        __m256d t = qn_times_i(o[3]);
        v[0] = _mm256_add_pd(o[0], o[1]);
        v[3] = _mm256_sub_pd(o[0], o[1]);
        v[1] = _mm256_sub_pd(o[2], t);
        v[2] = _mm256_add_pd(o[2], t);
    }

    /* Same traversal as qn_superop1q_avx2, PTM arithmetic. */
    static QN_AVX2 void qn_ptm1q_avx2(double *a, Py_ssize_t d, Py_ssize_t b, const double *rm) {
        __m256d r[16], v[4];
        for (int k = 0; k < 16; k++) r[k] = _mm256_set1_pd(rm[k]);
        const Py_ssize_t rs = 2*d, ob = 2*b;
        for (Py_ssize_t ih = 0; ih < d; ih += 2*b) {
            for (Py_ssize_t i0 = ih; i0 < ih + b; i0++) {
                double *r0 = a + i0*rs, *r1 = r0 + b*rs;
                if (b != 1) {
                    for (Py_ssize_t jh = 0; jh < d; jh += 2*b) {
                        for (Py_ssize_t x = 2*jh; x < 2*(jh + b); x += 4) {
                            v[0] = _mm256_loadu_pd(r0 + x);
                            v[1] = _mm256_loadu_pd(r0 + x + ob);
                            v[2] = _mm256_loadu_pd(r1 + x);
                            v[3] = _mm256_loadu_pd(r1 + x + ob);
                            qn_blk1_ptm(v, r);
                            _mm256_storeu_pd(r0 + x, v[0]);
                            _mm256_storeu_pd(r0 + x + ob, v[1]);
                            _mm256_storeu_pd(r1 + x, v[2]);
                            _mm256_storeu_pd(r1 + x + ob, v[3]);
                        }
                    }
                } else {
                    for (Py_ssize_t x = 0; x < 2*d; x += 8) {
                        __m256d p = _mm256_loadu_pd(r0 + x), q = _mm256_loadu_pd(r0 + x + 4);
                        __m256d s = _mm256_loadu_pd(r1 + x), t = _mm256_loadu_pd(r1 + x + 4);
                        v[0] = _mm256_permute2f128_pd(p, q, 0x20);
                        v[1] = _mm256_permute2f128_pd(p, q, 0x31);
                        v[2] = _mm256_permute2f128_pd(s, t, 0x20);
                        v[3] = _mm256_permute2f128_pd(s, t, 0x31);
                        qn_blk1_ptm(v, r);
                        _mm256_storeu_pd(r0 + x, _mm256_permute2f128_pd(v[0], v[1], 0x20));
                        _mm256_storeu_pd(r0 + x + 4, _mm256_permute2f128_pd(v[0], v[1], 0x31));
                        _mm256_storeu_pd(r1 + x, _mm256_permute2f128_pd(v[2], v[3], 0x20));
                        _mm256_storeu_pd(r1 + x + 4, _mm256_permute2f128_pd(v[2], v[3], 0x31));
                    }
                }
            }
        }
    }

    /* One 4x4 block pair: B -> (1-p) U B U^dag + p/4 tr(B) I.
     * ur/ui: U entries; cr/ci: (1-p) * conj(U) entries, row-major. */
    static inline QN_AVX2 void qn_blk2(__m256d *B, const __m256d *ur, const __m256d *ui,
                                       const __m256d *cr, const __m256d *ci, __m256d pq,
                                       int depol) {
        /* sum_r s_r * swap(v_r) == swap(sum_r s_r * v_r) for real s_r, so the
         * imaginary-part products are accumulated on the unswapped vectors
         * and swapped once per output: no swapped copy of B is kept. */
        __m256d O[16];
        for (int a = 0; a < 4; a++) {
            __m256d T[4];
            for (int c = 0; c < 4; c++) {
                __m256d ar = _mm256_mul_pd(ur[4*a], B[c]);
                __m256d ai = _mm256_mul_pd(ui[4*a], B[c]);
                for (int r = 1; r < 4; r++) {
                    ar = _mm256_fmadd_pd(ur[4*a+r], B[4*r+c], ar);
                    ai = _mm256_fmadd_pd(ui[4*a+r], B[4*r+c], ai);
                }
                T[c] = _mm256_addsub_pd(ar, QN_SWAP(ai));
            }
            for (int k = 0; k < 4; k++) {
                __m256d ar = _mm256_mul_pd(cr[4*k], T[0]);
                __m256d ai = _mm256_mul_pd(ci[4*k], T[0]);
                for (int c = 1; c < 4; c++) {
                    ar = _mm256_fmadd_pd(cr[4*k+c], T[c], ar);
                    ai = _mm256_fmadd_pd(ci[4*k+c], T[c], ai);
                }
                O[4*a+k] = _mm256_addsub_pd(ar, QN_SWAP(ai));
            }
        }
        if (depol) {
            __m256d tr = _mm256_add_pd(_mm256_add_pd(B[0], B[5]), _mm256_add_pd(B[10], B[15]));
            tr = _mm256_mul_pd(tr, pq);
            O[0] = _mm256_add_pd(O[0], tr);
            O[5] = _mm256_add_pd(O[5], tr);
            O[10] = _mm256_add_pd(O[10], tr);
            O[15] = _mm256_add_pd(O[15], tr);
        }
        for (int k = 0; k < 16; k++) B[k] = O[k];
    }

    /* Store lane-parallel block results one complex at a time: only lanes
     * whose column base is >= i (the others were finalised by an earlier
     * row's mirror), mirroring those > i.  For the group on the diagonal. */
    static void qn_store_lanes(double *a, Py_ssize_t d, Py_ssize_t i, const Py_ssize_t *off,
                               const double *buf, int nlanes, const Py_ssize_t *lane) {
        for (int l = 0; l < nlanes; l++) {
            if (lane[l] < i) continue;
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 4; c++) {
                    const double *v = buf + 2*nlanes*(4*r + c) + 2*l;
                    double *q = a + 2*(d*(i + off[r]) + lane[l] + off[c]);
                    q[0] = v[0]; q[1] = v[1];
                    if (lane[l] > i) {
                        double *m = a + 2*(d*(lane[l] + off[c]) + i + off[r]);
                        m[0] = v[0]; m[1] = -v[1];
                    }
                }
        }
    }

    /* In-place two-qubit U (+ depolarising p) on a d x d matrix, d >= 8.
     * bA, bB: bit values of the two targets (bA = most significant in U). */
    static QN_AVX2 void qn_unitary2q_avx2(double *a, Py_ssize_t d, Py_ssize_t bA, Py_ssize_t bB,
                                          const double *u, double p, int herm) {
        __m256d ur[16], ui[16], cr[16], ci[16], B[16];
        double keep = 1.0 - p;
        for (int k = 0; k < 16; k++) {
            ur[k] = _mm256_set1_pd(u[2*k]);
            ui[k] = _mm256_set1_pd(u[2*k+1]);
            cr[k] = _mm256_set1_pd(keep * u[2*k]);
            ci[k] = _mm256_set1_pd(-keep * u[2*k+1]);
        }
        __m256d pq = _mm256_set1_pd(0.25 * p);
        int depol = p != 0.0;
        Py_ssize_t off[4] = {0, bB, bA, bA + bB};
        Py_ssize_t tmask = bA | bB, e = 1;
        while (e & tmask) e <<= 1;
        Py_ssize_t cmask = tmask | e;
        /* slots whose low-target bit is clear, and their partner with it set */
        int lo_slot[2], hi_slot[2];
        if (bB == 1) { lo_slot[0] = 0; hi_slot[0] = 1; lo_slot[1] = 2; hi_slot[1] = 3; }
        else { lo_slot[0] = 0; hi_slot[0] = 2; lo_slot[1] = 1; hi_slot[1] = 3; }
        for (Py_ssize_t i = 0; i < d; i++) {
            if (i & tmask) continue;
            double *rows[4];
            for (int r = 0; r < 4; r++) rows[r] = a + 2*d*(i + off[r]);
            for (Py_ssize_t x = 0; x < d; x++) {
                if (x & cmask) continue;
                int diag = 0;
                if (herm) {
                    /* Hermitian rho and map: block (x, i) = block (i, x)^dag.
                     * Blocks left of the diagonal were written by an earlier
                     * row's mirror: skip them; the group holding the
                     * diagonal is computed whole but stored lane by lane. */
                    if (x + e < i) continue;
                    diag = x <= i;
                }
                if (e == 1) {
                    for (int r = 0; r < 4; r++)
                        for (int c = 0; c < 4; c++)
                            B[4*r+c] = _mm256_loadu_pd(rows[r] + 2*(x + off[c]));
                } else {
                    for (int r = 0; r < 4; r++)
                        for (int h = 0; h < 2; h++) {
                            double *base = rows[r] + 2*(x + off[lo_slot[h]]);
                            __m256d p0 = _mm256_loadu_pd(base), p1 = _mm256_loadu_pd(base + 2*e);
                            B[4*r+lo_slot[h]] = _mm256_permute2f128_pd(p0, p1, 0x20);
                            B[4*r+hi_slot[h]] = _mm256_permute2f128_pd(p0, p1, 0x31);
                        }
                }
                qn_blk2(B, ur, ui, cr, ci, pq, depol);
                if (diag) {
                    double buf[64];
                    const Py_ssize_t lane[2] = {x, x + e};
                    for (int k = 0; k < 16; k++) _mm256_storeu_pd(buf + 4*k, B[k]);
                    qn_store_lanes(a, d, i, off, buf, 2, lane);
                    continue;
                }
                if (e == 1) {
                    for (int r = 0; r < 4; r++)
                        for (int c = 0; c < 4; c++)
                            _mm256_storeu_pd(rows[r] + 2*(x + off[c]), B[4*r+c]);
                } else {
                    for (int r = 0; r < 4; r++)
                        for (int h = 0; h < 2; h++) {
                            double *base = rows[r] + 2*(x + off[lo_slot[h]]);
                            __m256d l = B[4*r+lo_slot[h]], m = B[4*r+hi_slot[h]];
                            _mm256_storeu_pd(base, _mm256_permute2f128_pd(l, m, 0x20));
                            _mm256_storeu_pd(base + 2*e, _mm256_permute2f128_pd(l, m, 0x31));
                        }
                }
                if (herm) {
                    const __m256d conj = _mm256_set_pd(-0.0, 0.0, -0.0, 0.0);
                    for (int r = 0; r < 4; r++)
                        for (int c = 0; c < 4; c++) {
                            __m256d v = _mm256_xor_pd(B[4*r+c], conj);
                            double *m = a + 2*(d*(x + off[c]) + i + off[r]);
                            _mm_storeu_pd(m, _mm256_castpd256_pd128(v));
                            _mm_storeu_pd(m + 2*d*e, _mm256_extractf128_pd(v, 1));
                        }
                }
            }
        }
    }

    /* ---- AVX-512: four blocks side by side, one per 128-bit lane. -------
     * Lanes are the column bases x, x+e, x+e2, x+e+e2 (e, e2 = the two
     * lowest non-target bits); each 256-bit half is exactly the AVX2
     * kernel's vector, so loads pair two AVX2 loads (one 512-bit load when
     * they are adjacent). */
    #define QN_SWAP512(v) _mm512_permute_pd((v), 0x55)

    static inline QN_AVX512 __m512d qn_times_i512(__m512d v) {
        __m512d w = QN_SWAP512(v);
        return _mm512_mask_sub_pd(w, 0x55, _mm512_setzero_pd(), w);
    }

    static inline QN_AVX512 __m512d qn_ld2(const double *p, Py_ssize_t off2) {
        if (off2 == 4) return _mm512_loadu_pd(p);
        return _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_loadu_pd(p)), _mm256_loadu_pd(p + off2), 1);
    }

    static inline QN_AVX512 void qn_st2(double *p, Py_ssize_t off2, __m512d v) {
        if (off2 == 4) { _mm512_storeu_pd(p, v); return; }
        _mm256_storeu_pd(p, _mm512_castpd512_pd256(v));
        _mm256_storeu_pd(p + off2, _mm512_extractf64x4_pd(v, 1));
    }

    static inline QN_AVX512 void qn_blk1_ptm512(__m512d *v, const __m512d *r) {
        __m512d c0 = _mm512_add_pd(v[0], v[3]);
        __m512d c1 = _mm512_sub_pd(v[0], v[3]);
        __m512d c2 = _mm512_add_pd(v[1], v[2]);
        __m512d c3 = qn_times_i512(_mm512_sub_pd(v[1], v[2]));
        __m512d o[4];
        for (int k = 0; k < 4; k++) {
            __m512d acc = _mm512_mul_pd(r[4*k], c0);
            acc = _mm512_fmadd_pd(r[4*k+1], c1, acc);
            acc = _mm512_fmadd_pd(r[4*k+2], c2, acc);
            o[k] = _mm512_fmadd_pd(r[4*k+3], c3, acc);
        }
        __m512d t = qn_times_i512(o[3]);
        v[0] = _mm512_add_pd(o[0], o[1]);
        v[3] = _mm512_sub_pd(o[0], o[1]);
        v[1] = _mm512_sub_pd(o[2], t);
        v[2] = _mm512_add_pd(o[2], t);
    }

    /* PTM one-qubit kernel, d >= 8. */
    static QN_AVX512 void qn_ptm1q_avx512(double *a, Py_ssize_t d, Py_ssize_t b, const double *rm) {
        __m512d r[16], v[4];
        for (int k = 0; k < 16; k++) r[k] = _mm512_set1_pd(rm[k]);
        const __m512i lo_idx = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
        const __m512i hi_idx = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
        const Py_ssize_t rs = 2*d, ob = 2*b;
        for (Py_ssize_t ih = 0; ih < d; ih += 2*b) {
            for (Py_ssize_t i0 = ih; i0 < ih + b; i0++) {
                double *r0 = a + i0*rs, *r1 = r0 + b*rs;
                if (b >= 4) {
                    /* lanes = 4 adjacent columns */
                    for (Py_ssize_t jh = 0; jh < d; jh += 2*b) {
                        for (Py_ssize_t x = 2*jh; x < 2*(jh + b); x += 8) {
                            v[0] = _mm512_loadu_pd(r0 + x);
                            v[1] = _mm512_loadu_pd(r0 + x + ob);
                            v[2] = _mm512_loadu_pd(r1 + x);
                            v[3] = _mm512_loadu_pd(r1 + x + ob);
                            qn_blk1_ptm512(v, r);
                            _mm512_storeu_pd(r0 + x, v[0]);
                            _mm512_storeu_pd(r0 + x + ob, v[1]);
                            _mm512_storeu_pd(r1 + x, v[2]);
                            _mm512_storeu_pd(r1 + x + ob, v[3]);
                        }
                    }
                } else if (b == 2) {
                    /* 8 columns x..x+7: bases x, x+1, x+4, x+5; partners +2 */
                    for (Py_ssize_t x = 0; x < 2*d; x += 16) {
                        __m512d p = _mm512_loadu_pd(r0 + x), q = _mm512_loadu_pd(r0 + x + 8);
                        __m512d s = _mm512_loadu_pd(r1 + x), t = _mm512_loadu_pd(r1 + x + 8);
                        v[0] = _mm512_shuffle_f64x2(p, q, 0x44);
                        v[1] = _mm512_shuffle_f64x2(p, q, 0xEE);
                        v[2] = _mm512_shuffle_f64x2(s, t, 0x44);
                        v[3] = _mm512_shuffle_f64x2(s, t, 0xEE);
                        qn_blk1_ptm512(v, r);
                        _mm512_storeu_pd(r0 + x, _mm512_shuffle_f64x2(v[0], v[1], 0x44));
                        _mm512_storeu_pd(r0 + x + 8, _mm512_shuffle_f64x2(v[0], v[1], 0xEE));
                        _mm512_storeu_pd(r1 + x, _mm512_shuffle_f64x2(v[2], v[3], 0x44));
                        _mm512_storeu_pd(r1 + x + 8, _mm512_shuffle_f64x2(v[2], v[3], 0xEE));
                    }
                } else {
                    /* b == 1: bases x, x+2, x+4, x+6; partners +1 */
                    for (Py_ssize_t x = 0; x < 2*d; x += 16) {
                        __m512d p = _mm512_loadu_pd(r0 + x), q = _mm512_loadu_pd(r0 + x + 8);
                        __m512d s = _mm512_loadu_pd(r1 + x), t = _mm512_loadu_pd(r1 + x + 8);
                        v[0] = _mm512_shuffle_f64x2(p, q, 0x88);
                        v[1] = _mm512_shuffle_f64x2(p, q, 0xDD);
                        v[2] = _mm512_shuffle_f64x2(s, t, 0x88);
                        v[3] = _mm512_shuffle_f64x2(s, t, 0xDD);
                        qn_blk1_ptm512(v, r);
                        _mm512_storeu_pd(r0 + x, _mm512_permutex2var_pd(v[0], lo_idx, v[1]));
                        _mm512_storeu_pd(r0 + x + 8, _mm512_permutex2var_pd(v[0], hi_idx, v[1]));
                        _mm512_storeu_pd(r1 + x, _mm512_permutex2var_pd(v[2], lo_idx, v[3]));
                        _mm512_storeu_pd(r1 + x + 8, _mm512_permutex2var_pd(v[2], hi_idx, v[3]));
                    }
                }
            }
        }
    }

    static inline QN_AVX512 void qn_blk2_512(__m512d *B, const __m512d *ur, const __m512d *ui,
                                             const __m512d *cr, const __m512d *ci, __m512d pq,
                                             int depol) {
        __m512d O[16];
        const __m512d one = _mm512_set1_pd(1.0);
        for (int a = 0; a < 4; a++) {
            __m512d T[4];
            for (int c = 0; c < 4; c++) {
                __m512d ar = _mm512_mul_pd(ur[4*a], B[c]);
                __m512d ai = _mm512_mul_pd(ui[4*a], B[c]);
                for (int r = 1; r < 4; r++) {
                    ar = _mm512_fmadd_pd(ur[4*a+r], B[4*r+c], ar);
                    ai = _mm512_fmadd_pd(ui[4*a+r], B[4*r+c], ai);
                }
                T[c] = _mm512_fmaddsub_pd(ar, one, QN_SWAP512(ai));
            }
            for (int k = 0; k < 4; k++) {
                __m512d ar = _mm512_mul_pd(cr[4*k], T[0]);
                __m512d ai = _mm512_mul_pd(ci[4*k], T[0]);
                for (int c = 1; c < 4; c++) {
                    ar = _mm512_fmadd_pd(cr[4*k+c], T[c], ar);
                    ai = _mm512_fmadd_pd(ci[4*k+c], T[c], ai);
                }
                O[4*a+k] = _mm512_fmaddsub_pd(ar, one, QN_SWAP512(ai));
            }
        }
        if (depol) {
            __m512d tr = _mm512_add_pd(_mm512_add_pd(B[0], B[5]), _mm512_add_pd(B[10], B[15]));
            tr = _mm512_mul_pd(tr, pq);
            O[0] = _mm512_add_pd(O[0], tr);
            O[5] = _mm512_add_pd(O[5], tr);
            O[10] = _mm512_add_pd(O[10], tr);
            O[15] = _mm512_add_pd(O[15], tr);
        }
        for (int k = 0; k < 16; k++) B[k] = O[k];
    }

    /* Two-qubit U (+ depolarising p), d >= 16. */
    static QN_AVX512 void qn_unitary2q_avx512(double *a, Py_ssize_t d, Py_ssize_t bA, Py_ssize_t bB,
                                              const double *u, double p) {
        __m512d ur[16], ui[16], cr[16], ci[16], B[16];
        double keep = 1.0 - p;
        for (int k = 0; k < 16; k++) {
            ur[k] = _mm512_set1_pd(u[2*k]);
            ui[k] = _mm512_set1_pd(u[2*k+1]);
            cr[k] = _mm512_set1_pd(keep * u[2*k]);
            ci[k] = _mm512_set1_pd(-keep * u[2*k+1]);
        }
        const __m512d pq = _mm512_set1_pd(0.25 * p);
        const int depol = p != 0.0;
        const __m512i lo_idx = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
        const __m512i hi_idx = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
        Py_ssize_t off[4] = {0, bB, bA, bA + bB};
        Py_ssize_t tmask = bA | bB, e = 1, e2;
        while (e & tmask) e <<= 1;
        e2 = e << 1;
        while (e2 & tmask) e2 <<= 1;
        const Py_ssize_t cmask = tmask | e | e2, o2 = 2*e2;
        int lo_slot[2], hi_slot[2];
        if (bB == 1) { lo_slot[0] = 0; hi_slot[0] = 1; lo_slot[1] = 2; hi_slot[1] = 3; }
        else { lo_slot[0] = 0; hi_slot[0] = 2; lo_slot[1] = 1; hi_slot[1] = 3; }
        for (Py_ssize_t i = 0; i < d; i++) {
            if (i & tmask) continue;
            double *rows[4];
            for (int r = 0; r < 4; r++) rows[r] = a + 2*d*(i + off[r]);
            for (Py_ssize_t x = 0; x < d; x++) {
                if (x & cmask) continue;
                if (e == 1) {
                    for (int r = 0; r < 4; r++)
                        for (int c = 0; c < 4; c++)
                            B[4*r+c] = qn_ld2(rows[r] + 2*(x + off[c]), o2);
                } else {
                    for (int r = 0; r < 4; r++)
                        for (int h = 0; h < 2; h++) {
                            double *base = rows[r] + 2*(x + off[lo_slot[h]]);
                            __m512d p0 = qn_ld2(base, o2), p1 = qn_ld2(base + 2*e, o2);
                            B[4*r+lo_slot[h]] = _mm512_permutex2var_pd(p0, lo_idx, p1);
                            B[4*r+hi_slot[h]] = _mm512_permutex2var_pd(p0, hi_idx, p1);
                        }
                }
                qn_blk2_512(B, ur, ui, cr, ci, pq, depol);
                if (e == 1) {
                    for (int r = 0; r < 4; r++)
                        for (int c = 0; c < 4; c++)
                            qn_st2(rows[r] + 2*(x + off[c]), o2, B[4*r+c]);
                } else {
                    for (int r = 0; r < 4; r++)
                        for (int h = 0; h < 2; h++) {
                            double *base = rows[r] + 2*(x + off[lo_slot[h]]);
                            __m512d l = B[4*r+lo_slot[h]], m = B[4*r+hi_slot[h]];
                            qn_st2(base, o2, _mm512_permutex2var_pd(l, lo_idx, m));
                            qn_st2(base + 2*e, o2, _mm512_permutex2var_pd(l, hi_idx, m));
                        }
                }
            }
        }
    }
    #else
    #define QN_SIMD_BUILT 0
    static int qn_cpu_level(void) { return 0; }
    static inline unsigned int qn_ftz_enter(void) { return 0; }
    static inline void qn_ftz_leave(unsigned int old) { (void)old; }
    static void qn_ptm1q_avx512(double *a, Py_ssize_t d, Py_ssize_t b, const double *rm) {}
    static void qn_unitary2q_avx512(double *a, Py_ssize_t d, Py_ssize_t bA, Py_ssize_t bB,
                                    const double *u, double p) {}
    static void qn_superop1q_avx2(double *a, Py_ssize_t d, Py_ssize_t b, const double *s) {}
    static void qn_ptm1q_avx2(double *a, Py_ssize_t d, Py_ssize_t b, const double *rm) {}
    static void qn_unitary2q_avx2(double *a, Py_ssize_t d, Py_ssize_t bA, Py_ssize_t bB,
                                  const double *u, double p, int herm) {}
    #endif
    """
    int QN_SIMD_BUILT
    int qn_cpu_level() nogil
    unsigned int qn_ftz_enter() noexcept nogil
    void qn_ftz_leave(unsigned int old) noexcept nogil
    void qn_ptm1q_avx512(double *a, Py_ssize_t d, Py_ssize_t b, const double *rm) noexcept nogil
    void qn_unitary2q_avx512(double *a, Py_ssize_t d, Py_ssize_t bA, Py_ssize_t bB,
                             const double *u, double p) noexcept nogil
    void qn_superop1q_avx2(double *a, Py_ssize_t d, Py_ssize_t b, const double *s) noexcept nogil
    void qn_ptm1q_avx2(double *a, Py_ssize_t d, Py_ssize_t b, const double *rm) noexcept nogil
    void qn_unitary2q_avx2(double *a, Py_ssize_t d, Py_ssize_t bA, Py_ssize_t bB,
                           const double *u, double p, int herm) noexcept nogil


#: Largest register (qubits sharing one density matrix).  A 12-qubit matrix
#: is 256 MiB; beyond that a mock device is the wrong tool.
MAX_REGISTER_QUBITS = 12
cdef int _MAX_REG = 12

#: Below this matrix dimension the GIL is kept: releasing it costs more than
#: the kernel.
cdef Py_ssize_t _NOGIL_DIM = 64

#: Outcomes less likely than this are treated as impossible (rounding noise).
cdef double _TINY_PROB = 1e-15

cdef int _cpu_level = qn_cpu_level()
cdef int _level = _cpu_level


def _set_simd(enabled):
    """Choose the kernel family: False/0 = portable Cython loops, 1 = AVX2+FMA,
    2 = AVX-512, True = the best this CPU has (the default).  Capped at what
    the CPU supports.  Returns the level now in use.  For tests/benchmarks."""
    global _level
    if enabled is True:
        _level = _cpu_level
    else:
        _level = max(0, min(int(enabled), _cpu_level))
    return _level


cdef bint _halving = True
#: Largest matrix dimension for which the 2q kernel mirrors (see _unitary2q).
cdef Py_ssize_t _HALVING_MAX_DIM = 128


def _set_halving(enabled):
    """Allow (default) or forbid the vector 2q kernels' use of rho = rho^dag
    (compute half the blocks, mirror the rest).  For tests/benchmarks."""
    global _halving
    _halving = bool(enabled)
    return _halving


def _simd_level():
    """Kernel family in use (0 portable, 1 AVX2+FMA, 2 AVX-512)."""
    return _level


def _cpu_simd_level():
    """Best kernel family this CPU (and build) supports."""
    return _cpu_level


class UnknownQubitError(KeyError, ValueError):
    """A qubit id the engine does not know (never added, or removed).

    Subclasses both KeyError and ValueError so either ``except`` works; its
    message is shown unquoted, e.g. ``unknown qubit 7``.
    """

    def __str__(self):
        return str(self.args[0]) if self.args else "unknown qubit"


class RegisterTooLargeError(ValueError):
    """Merging would put more than MAX_REGISTER_QUBITS qubits in one matrix."""


# ---------------------------------------------------------------------------
# Portable kernels: typed loops over the flat interleaved (re, im) buffer.
# ---------------------------------------------------------------------------

cdef void _k_superop1q(double* a, Py_ssize_t d, Py_ssize_t b, const double* s) noexcept nogil:
    """In place: every 2x2 block M of the target becomes S vec(M)."""
    cdef double sr[16]
    cdef double si[16]
    cdef double mr[4]
    cdef double mi[4]
    cdef double orr, oi
    cdef int k, m
    cdef Py_ssize_t hb, ih, i0, jb, jh, j0, x, y
    cdef Py_ssize_t rs = 2 * d, nblk = d // (2 * b)
    cdef double* r0
    cdef double* r1
    for k in range(16):
        sr[k] = s[2 * k]
        si[k] = s[2 * k + 1]
    for hb in range(nblk):
        ih = hb * 2 * b
        for i0 in range(ih, ih + b):
            r0 = a + i0 * rs
            r1 = r0 + b * rs
            for jb in range(nblk):
                jh = jb * 2 * b
                for j0 in range(jh, jh + b):
                    x = 2 * j0
                    y = x + 2 * b
                    mr[0] = r0[x]
                    mi[0] = r0[x + 1]
                    mr[1] = r0[y]
                    mi[1] = r0[y + 1]
                    mr[2] = r1[x]
                    mi[2] = r1[x + 1]
                    mr[3] = r1[y]
                    mi[3] = r1[y + 1]
                    for k in range(4):
                        orr = 0.0
                        oi = 0.0
                        for m in range(4):
                            orr = orr + sr[4 * k + m] * mr[m] - si[4 * k + m] * mi[m]
                            oi = oi + sr[4 * k + m] * mi[m] + si[4 * k + m] * mr[m]
                        if k == 0:
                            r0[x] = orr
                            r0[x + 1] = oi
                        elif k == 1:
                            r0[y] = orr
                            r0[y + 1] = oi
                        elif k == 2:
                            r1[x] = orr
                            r1[x + 1] = oi
                        else:
                            r1[y] = orr
                            r1[y + 1] = oi


cdef void _k_unitary2q(double* a, Py_ssize_t d, Py_ssize_t bA, Py_ssize_t bB,
                       const double* u, double p) noexcept nogil:
    """In place: every 4x4 block B becomes (1-p) U B U^dag + p/4 tr(B) I."""
    cdef double br[16]
    cdef double bi[16]
    cdef double tr_[4]
    cdef double ti[4]
    cdef double orr, oi, trr, tri, keep = 1.0 - p, pq = 0.25 * p
    cdef Py_ssize_t off[4]
    cdef double* rows[4]
    cdef Py_ssize_t tmask = bA | bB
    cdef Py_ssize_t i, x, pos
    cdef int r, c, k, aa
    off[0] = 0
    off[1] = bB
    off[2] = bA
    off[3] = bA + bB
    for i in range(d):
        if i & tmask:
            continue
        for r in range(4):
            rows[r] = a + 2 * d * (i + off[r])
        for x in range(d):
            if x & tmask:
                continue
            for r in range(4):
                for c in range(4):
                    pos = 2 * (x + off[c])
                    br[4 * r + c] = rows[r][pos]
                    bi[4 * r + c] = rows[r][pos + 1]
            trr = br[0] + br[5] + br[10] + br[15]
            tri = bi[0] + bi[5] + bi[10] + bi[15]
            for aa in range(4):
                # T[aa, c] = sum_r U[aa, r] B[r, c]
                for c in range(4):
                    orr = 0.0
                    oi = 0.0
                    for r in range(4):
                        orr = orr + u[2 * (4 * aa + r)] * br[4 * r + c] - u[2 * (4 * aa + r) + 1] * bi[4 * r + c]
                        oi = oi + u[2 * (4 * aa + r)] * bi[4 * r + c] + u[2 * (4 * aa + r) + 1] * br[4 * r + c]
                    tr_[c] = orr
                    ti[c] = oi
                # O[aa, k] = (1-p) sum_c T[aa, c] conj(U[k, c])
                for k in range(4):
                    orr = 0.0
                    oi = 0.0
                    for c in range(4):
                        orr = orr + tr_[c] * u[2 * (4 * k + c)] + ti[c] * u[2 * (4 * k + c) + 1]
                        oi = oi + ti[c] * u[2 * (4 * k + c)] - tr_[c] * u[2 * (4 * k + c) + 1]
                    orr = keep * orr
                    oi = keep * oi
                    if aa == k:
                        orr = orr + pq * trr
                        oi = oi + pq * tri
                    pos = 2 * (x + off[k])
                    rows[aa][pos] = orr
                    rows[aa][pos + 1] = oi


cdef void _k_depol2q(double* a, Py_ssize_t d, Py_ssize_t bA, Py_ssize_t bB, double p) noexcept nogil:
    """In place: every 4x4 block B becomes (1-p) B + p/4 tr(B) I."""
    cdef Py_ssize_t tmask = bA | bB
    cdef Py_ssize_t off[4]
    cdef Py_ssize_t i, x, pos
    cdef int r, c
    cdef double keep = 1.0 - p, pq = 0.25 * p, trr, tri
    cdef double* row
    off[0] = 0
    off[1] = bB
    off[2] = bA
    off[3] = bA + bB
    for i in range(d):
        if i & tmask:
            continue
        for x in range(d):
            if x & tmask:
                continue
            trr = 0.0
            tri = 0.0
            for r in range(4):
                pos = 2 * (d * (i + off[r]) + x + off[r])
                trr = trr + a[pos]
                tri = tri + a[pos + 1]
            for r in range(4):
                row = a + 2 * d * (i + off[r])
                for c in range(4):
                    pos = 2 * (x + off[c])
                    row[pos] = keep * row[pos]
                    row[pos + 1] = keep * row[pos + 1]
                    if r == c:
                        row[pos] = row[pos] + pq * trr
                        row[pos + 1] = row[pos + 1] + pq * tri


cdef bint _superop_to_ptm(const double* sp, double* r) noexcept nogil:
    """Real Pauli-transfer form R of the superop (see qn_blk1_ptm), scaled so
    that the kernel needs no extra factors.  Returns False if S is not
    Hermiticity-preserving (R not real), where the complex kernel is needed."""
    cdef const double complex* s = <const double complex*> sp
    cdef double complex t[16]
    cdef double complex v
    cdef int a, j
    cdef double big = 1.0, bad = 0.0
    # T = S F with F the (c' -> vec) map
    for a in range(4):
        t[4 * a + 0] = s[4 * a + 0] + s[4 * a + 3]
        t[4 * a + 1] = s[4 * a + 0] - s[4 * a + 3]
        t[4 * a + 2] = s[4 * a + 1] + s[4 * a + 2]
        t[4 * a + 3] = 1j * (s[4 * a + 2] - s[4 * a + 1])
    # R = G T / 4 with G the (vec -> c) map
    for j in range(4):
        for a in range(4):
            if a == 0:
                v = t[j] + t[12 + j]
            elif a == 1:
                v = t[j] - t[12 + j]
            elif a == 2:
                v = t[4 + j] + t[8 + j]
            else:
                v = 1j * (t[4 + j] - t[8 + j])
            v = 0.25 * v
            r[4 * a + j] = v.real
            big = max(big, abs(v.real))
            bad = max(bad, abs(v.imag))
    return bad <= 1e-14 * big


cdef inline void _superop1q(double* a, Py_ssize_t d, Py_ssize_t b, const double* s,
                            const double* r, bint hp) noexcept nogil:
    """s: complex superop; r: its real Pauli-transfer form, valid if hp."""
    cdef unsigned int csr = qn_ftz_enter()
    if _level == 0 or d < 4:
        _k_superop1q(a, d, b, s)
    elif not hp:
        qn_superop1q_avx2(a, d, b, s)
    elif _level >= 2 and d >= 8:
        qn_ptm1q_avx512(a, d, b, r)
    else:
        qn_ptm1q_avx2(a, d, b, r)
    qn_ftz_leave(csr)


cdef inline void _unitary2q(double* a, Py_ssize_t d, Py_ssize_t bA, Py_ssize_t bB,
                            const double* u, double p, bint herm) noexcept nogil:
    """herm: the register is Hermitian.  While the matrix sits in cache the
    2q gate is compute-bound, and the AVX2 kernel then computes only the
    blocks on/right of the diagonal and mirrors the rest (measured ~1.25x;
    the mirror's scattered stores cost the rest, and beyond L2 they cost
    more than they save, hence the size limit).  AVX-512 brings nothing for
    the mirrored variant on the machines measured, so only AVX2 has it."""
    cdef unsigned int csr = qn_ftz_enter()
    if _level == 0 or d < 8:
        _k_unitary2q(a, d, bA, bB, u, p)
    elif herm and d <= _HALVING_MAX_DIM:
        qn_unitary2q_avx2(a, d, bA, bB, u, p, 1)
    elif _level >= 2 and d >= 16:
        qn_unitary2q_avx512(a, d, bA, bB, u, p)
    else:
        qn_unitary2q_avx2(a, d, bA, bB, u, p, 0)
    qn_ftz_leave(csr)


# ---------------------------------------------------------------------------
# Argument helpers
# ---------------------------------------------------------------------------

cdef object _C128 = np.complex128


cdef inline cnp.ndarray _square_c128(object M, Py_ssize_t dim, str name):
    """Return M as a C-contiguous complex128 (dim, dim) array, no copy if it
    already is one (the common, fast case)."""
    if (cnp.PyArray_CheckExact(M)
            and cnp.PyArray_TYPE(<cnp.ndarray>M) == cnp.NPY_COMPLEX128
            and cnp.PyArray_NDIM(<cnp.ndarray>M) == 2
            and cnp.PyArray_DIM(<cnp.ndarray>M, 0) == dim
            and cnp.PyArray_DIM(<cnp.ndarray>M, 1) == dim
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>M)):
        return <cnp.ndarray>M
    try:
        arr = np.asarray(M)
    except Exception as exc:  # e.g. ragged nested lists
        raise ValueError(f"{name} must be a ({dim}, {dim}) complex matrix: {exc}") from None
    if arr.ndim != 2 or arr.shape[0] != dim or arr.shape[1] != dim:
        raise ValueError(f"{name} must have shape ({dim}, {dim}), got {arr.shape}")
    if arr.dtype.kind not in "biufc":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=_C128)


cdef inline double _prob(object p, str name) except -1.0:
    cdef double v = p
    if not (0.0 <= v <= 1.0):
        raise ValueError(f"{name} must be in [0, 1], got {p!r}")
    return v


cdef inline bint _no_time(double t):
    """0 or inf (or None mapped to 0) means 'no such process'."""
    return t == 0.0 or not isfinite(t)


# ---------------------------------------------------------------------------
# Registers
# ---------------------------------------------------------------------------

cdef class _Register:
    """Qubits sharing one density matrix (C-contiguous complex128)."""

    cdef public list qubits
    cdef public cnp.ndarray mat
    cdef double* data
    cdef Py_ssize_t n
    cdef Py_ssize_t dim
    # False once a non-Hermiticity-preserving map was applied (only possible
    # through apply_superop_1q with an unphysical S); disables the kernels
    # that exploit rho = rho^dag.
    cdef public bint herm

    def __cinit__(self, list qubits, cnp.ndarray mat, bint herm=True):
        self.qubits = qubits
        self.herm = herm
        self._bind(mat)

    cdef void _bind(self, cnp.ndarray mat):
        """Adopt a new matrix (must be C-contiguous complex128 of the right size)."""
        self.mat = mat
        self.data = <double*> cnp.PyArray_DATA(mat)
        self.n = len(self.qubits)
        self.dim = (<Py_ssize_t> 1) << self.n

    cdef inline Py_ssize_t bit(self, object q):
        """Bit value of qubit q in this register's basis index."""
        cdef Py_ssize_t i
        for i in range(self.n):  # callers pass the very id objects the register holds: no comparison
            if <object> PyList_GET_ITEM(self.qubits, i) is q:
                return (<Py_ssize_t> 1) << (self.n - 1 - i)
        return (<Py_ssize_t> 1) << (self.n - 1 - self.qubits.index(q))


cdef cnp.ndarray _ket0_dm():
    cdef cnp.ndarray m = np.zeros((2, 2), dtype=np.complex128)
    m[0, 0] = 1.0
    return m


cdef cnp.ndarray _kron(cnp.ndarray a, cnp.ndarray b, Py_ssize_t da, Py_ssize_t db):
    """np.kron(a, b) of two square matrices: the same element products (one complex multiply each,
    so bit for bit the same), without np.kron's generic shape handling, which cost more than the
    product itself on the small registers a gate merges."""
    return (a.reshape(da, 1, da, 1) * b.reshape(1, db, 1, db)).reshape(da * db, da * db)


cdef cnp.ndarray _trace_out(cnp.ndarray mat, Py_ssize_t n, Py_ssize_t pos):
    """Partial trace of qubit at storage position pos of an n-qubit matrix."""
    cdef Py_ssize_t hi = (<Py_ssize_t> 1) << pos
    cdef Py_ssize_t lo = (<Py_ssize_t> 1) << (n - 1 - pos)
    t = mat.reshape(hi, 2, lo, hi, 2, lo)
    red = t[:, 0, :, :, 0, :] + t[:, 1, :, :, 1, :]
    return np.ascontiguousarray(red.reshape(hi * lo, hi * lo))


# ---------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------

cdef class StateEngine:
    """Noisy density-matrix simulator of a node's qubits.

    All operations act in place on the registers' matrices.  ``seed`` seeds a
    numpy ``Generator(PCG64(seed))``; measurement draws two uniforms per
    measurement (outcome, readout error) so the true-outcome sequence of a
    seed does not depend on the readout-error parameters.
    """

    cdef dict _where
    cdef Py_ssize_t _next_id
    cdef object _rng
    cdef cnp.ndarray _ubuf
    cdef Py_ssize_t _upos
    cdef double _s[32]
    cdef double _u[32]

    def __cinit__(self, seed=None):
        self._where = {}
        self._next_id = 0
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self._ubuf = np.empty(0)
        self._upos = 0

    # -- bookkeeping -------------------------------------------------------

    cdef inline _Register _reg(self, object q):
        reg = self._where.get(q)
        if reg is None:
            raise UnknownQubitError(f"unknown qubit {q!r}")
        return <_Register> reg

    cdef double _uniform(self) except? -1.0:
        """Next U[0,1) draw; drawn in batches to keep measurement cheap."""
        if self._upos >= cnp.PyArray_DIM(self._ubuf, 0):
            self._ubuf = self._rng.random(256)
            self._upos = 0
        cdef double v = (<double*> cnp.PyArray_DATA(self._ubuf))[self._upos]
        self._upos += 1
        return v

    cdef _Register _detach(self, object q):
        """Trace q out of its register and leave it alone in a 1-qubit one
        (its state is then unspecified: callers overwrite it)."""
        cdef _Register reg = self._reg(q)
        if reg.n == 1:
            return reg
        cdef Py_ssize_t pos = reg.qubits.index(q)
        red = _trace_out(reg.mat, reg.n, pos)
        reg.qubits.pop(pos)
        reg._bind(red)
        cdef _Register alone = _Register([q], _ket0_dm())
        self._where[q] = alone
        return alone

    cdef _Register _merge(self, _Register ra, _Register rb):
        """Tensor two registers into one (ra's qubits first)."""
        if ra.n + rb.n > _MAX_REG:
            raise RegisterTooLargeError(
                f"merging registers {tuple(ra.qubits)} and {tuple(rb.qubits)} would hold "
                f"{ra.n + rb.n} qubits; the limit is {_MAX_REG}")
        cdef _Register merged = _Register(ra.qubits + rb.qubits, _kron(ra.mat, rb.mat, ra.dim, rb.dim),
                                          ra.herm and rb.herm)
        for q in merged.qubits:
            self._where[q] = merged
        return merged

    # -- qubit lifecycle -----------------------------------------------------

    def add_qubit(self):
        """Allocate a new qubit in |0><0|; ids are never reused."""
        q = self._next_id
        self._next_id += 1
        self._where[q] = _Register([q], _ket0_dm())
        return q

    def remove_qubit(self, q):
        """Trace q out and forget it."""
        self._detach(q)
        del self._where[q]

    def reset(self, q):
        """Put q alone into |0><0| (tracing it out of any entanglement)."""
        cdef _Register reg = self._detach(q)
        reg._bind(_ket0_dm())
        reg.herm = True

    @property
    def num_qubits(self):
        return len(self._where)

    @property
    def qubits(self):
        """Ids of all live qubits, ascending."""
        return tuple(sorted(self._where))

    def register_of(self, q):
        """Qubits sharing q's density matrix, in storage (big-endian) order."""
        return tuple(self._reg(q).qubits)

    # -- one-qubit channels ----------------------------------------------------

    cdef void _run1(self, _Register reg, Py_ssize_t b):
        """Apply the superop in self._s to bit b of reg."""
        cdef double* a = reg.data
        cdef Py_ssize_t d = reg.dim
        cdef double* s = self._s
        cdef double r[16]
        cdef bint hp = _superop_to_ptm(s, r)
        if not hp:
            reg.herm = False
        if d >= _NOGIL_DIM:
            with nogil:
                _superop1q(a, d, b, s, r, hp)
        else:
            _superop1q(a, d, b, s, r, hp)

    def apply_superop_1q(self, q, S):
        """vec(M) -> S @ vec(M) on every 2x2 block of q (row-major vec:
        [M00, M01, M10, M11]).  One pass; the hot path of noisy gates."""
        cdef _Register reg = self._reg(q)
        cdef cnp.ndarray arr = _square_c128(S, 4, "superoperator")
        cdef double* src = <double*> cnp.PyArray_DATA(arr)
        cdef int k
        for k in range(32):
            self._s[k] = src[k]
        self._run1(reg, reg.bit(q))

    def apply_unitary_1q(self, q, U):
        """rho -> U rho U^dag on qubit q (U is 2x2)."""
        cdef _Register reg = self._reg(q)
        cdef cnp.ndarray arr = _square_c128(U, 2, "unitary")
        cdef double complex* u = <double complex*> cnp.PyArray_DATA(arr)
        cdef double complex* s = <double complex*> self._s
        cdef int i, j, k, l
        # S = kron(U, conj(U)): S[2i+j, 2k+l] = U[i,k] conj(U[j,l])
        for i in range(2):
            for j in range(2):
                for k in range(2):
                    for l in range(2):
                        s[4 * (2 * i + j) + 2 * k + l] = u[2 * i + k] * u[2 * j + l].conjugate()
        self._run1(reg, reg.bit(q))

    cdef void _set_s(self, double s00, double s03, double s11, double s30, double s33):
        """Real superop with the sparsity of every phase-covariant channel."""
        cdef int k
        for k in range(32):
            self._s[k] = 0.0
        self._s[0] = s00
        self._s[2 * 3] = s03
        self._s[2 * 5] = s11
        self._s[2 * 10] = s11
        self._s[2 * 12] = s30
        self._s[2 * 15] = s33

    def depolarize_1q(self, q, p):
        """With probability p replace q by I/2: rho -> (1-p) rho + p I/2 (x) Tr_q rho."""
        cdef _Register reg = self._reg(q)
        cdef double pp = _prob(p, "depolarising probability p")
        self._set_s(1.0 - 0.5 * pp, 0.5 * pp, 1.0 - pp, 0.5 * pp, 1.0 - 0.5 * pp)
        self._run1(reg, reg.bit(q))

    def dephase(self, q, p):
        """rho -> (1-p) rho + p Z rho Z."""
        cdef _Register reg = self._reg(q)
        cdef double pp = _prob(p, "dephasing probability p")
        self._set_s(1.0, 0.0, 1.0 - 2.0 * pp, 0.0, 1.0)
        self._run1(reg, reg.bit(q))

    def amplitude_damp(self, q, gamma):
        """Amplitude damping: |1> decays to |0> with probability gamma."""
        cdef _Register reg = self._reg(q)
        cdef double g = _prob(gamma, "damping probability gamma")
        self._set_s(1.0, g, sqrt(1.0 - g), 0.0, 1.0 - g)
        self._run1(reg, reg.bit(q))

    def idle(self, q, dt, t1, t2):
        """Free T1/T2 evolution for time dt (one pass).

        Populations relax towards |0> as exp(-dt/T1); coherences decay as
        exp(-dt/T2) in total (T2 includes the T1 part, so T2 <= 2 T1).  A T1
        or T2 of 0, inf or None means that process is absent; with T2 absent
        and T1 present the coherence decay is the T1 limit exp(-dt/(2 T1)).
        """
        cdef _Register reg = self._reg(q)
        cdef double t = dt
        cdef double a1 = 0.0 if t1 is None else t1
        cdef double a2 = 0.0 if t2 is None else t2
        if not (t >= 0.0) or not isfinite(t):
            raise ValueError(f"idle time dt must be finite and >= 0, got {dt!r}")
        if a1 < 0.0 or a2 < 0.0 or a1 != a1 or a2 != a2:
            raise ValueError(f"t1 and t2 must be >= 0 (0 or inf = none), got t1={t1!r}, t2={t2!r}")
        if not _no_time(a1) and not _no_time(a2) and a2 > 2.0 * a1:
            raise ValueError(f"unphysical coherence times: t2={t2!r} > 2*t1={2.0 * a1!r} (need t2 <= 2*t1)")
        self._idle_bit(reg, reg.bit(q), t, a1, a2)

    cdef void _idle_bit(self, _Register reg, Py_ssize_t b, double t, double a1, double a2):
        """The T1/T2 pass of :meth:`idle` on bit b of reg, arguments already checked (the
        sequence runner calls it with times it checked once)."""
        cdef bint has1 = not _no_time(a1)
        cdef bint has2 = not _no_time(a2)
        cdef double e1 = exp(-t / a1) if has1 else 1.0
        cdef double e2
        if has2:
            e2 = exp(-t / a2)
        elif has1:
            e2 = exp(-t / (2.0 * a1))
        else:
            e2 = 1.0
        self._set_s(1.0, 1.0 - e1, e2, 0.0, e1)
        self._run1(reg, b)

    # -- two-qubit channels ----------------------------------------------------

    cdef _Register _pair(self, object q0, object q1):
        """Register holding both q0 and q1 (merging if needed)."""
        cdef _Register r0 = self._reg(q0)
        cdef _Register r1 = self._reg(q1)
        if q0 == q1:
            raise ValueError(f"two-qubit operation needs two distinct qubits, got {q0!r} twice")
        if r0 is not r1:
            r0 = self._merge(r0, r1)
        return r0

    def apply_unitary_2q(self, q0, q1, U, p_depol=0.0):
        """rho -> U rho U^dag with q0 the most significant qubit of the 4x4 U.

        Merges the registers of q0 and q1 if they differ.  ``p_depol`` > 0
        fuses two-qubit depolarising noise into the same pass (the noisy-gate
        hot path): rho -> (1-p) U rho U^dag + p I/4 (x) Tr_pair rho.
        """
        cdef cnp.ndarray arr = _square_c128(U, 4, "two-qubit unitary")
        cdef double p = _prob(p_depol, "depolarising probability p_depol")
        cdef _Register reg = self._pair(q0, q1)
        cdef double* src = <double*> cnp.PyArray_DATA(arr)
        cdef int k
        for k in range(32):
            self._u[k] = src[k]
        cdef double* a = reg.data
        cdef double* u = self._u
        cdef Py_ssize_t d = reg.dim
        cdef Py_ssize_t bA = reg.bit(q0)
        cdef Py_ssize_t bB = reg.bit(q1)
        cdef bint herm = reg.herm and _halving
        if d >= _NOGIL_DIM:
            with nogil:
                _unitary2q(a, d, bA, bB, u, p, herm)
        else:
            _unitary2q(a, d, bA, bB, u, p, herm)

    def depolarize_2q(self, q0, q1, p):
        """With probability p replace the pair by I/4."""
        cdef double pp = _prob(p, "depolarising probability p")
        cdef _Register reg = self._pair(q0, q1)
        cdef double* a = reg.data
        cdef Py_ssize_t d = reg.dim
        cdef Py_ssize_t bA = reg.bit(q0)
        cdef Py_ssize_t bB = reg.bit(q1)
        cdef unsigned int csr
        if d >= _NOGIL_DIM:
            with nogil:
                csr = qn_ftz_enter()
                _k_depol2q(a, d, bA, bB, pp)
                qn_ftz_leave(csr)
        else:
            csr = qn_ftz_enter()
            _k_depol2q(a, d, bA, bB, pp)
            qn_ftz_leave(csr)

    # -- measurement -----------------------------------------------------------

    cdef double _p1(self, _Register reg, Py_ssize_t b):
        cdef double s = 0.0
        cdef Py_ssize_t i, d = reg.dim
        for i in range(d):
            if i & b:
                s += reg.data[2 * (i * d + i)]
        return min(max(s, 0.0), 1.0)

    def probability_one(self, q):
        """Born probability of outcome 1 for a Z measurement of q."""
        cdef _Register reg = self._reg(q)
        return self._p1(reg, reg.bit(q))

    cdef void _collapse(self, _Register reg, object q, Py_ssize_t pos, int outcome, double prob):
        """Project q onto |outcome> (Born probability prob) and split it out."""
        cdef Py_ssize_t hi, lo
        cdef cnp.ndarray post = np.zeros((2, 2), dtype=np.complex128)
        post[outcome, outcome] = 1.0
        if reg.n > 1:
            hi = (<Py_ssize_t> 1) << pos
            lo = (<Py_ssize_t> 1) << (reg.n - 1 - pos)
            t = reg.mat.reshape(hi, 2, lo, hi, 2, lo)
            rest = t[:, outcome, :, :, outcome, :].reshape(hi * lo, hi * lo)
            rest = np.ascontiguousarray(rest) * (1.0 / prob)
            reg.qubits.pop(pos)
            reg._bind(rest)  # a principal block of a Hermitian matrix: herm unchanged
            self._where[q] = _Register([q], post)
        else:
            reg._bind(post)
            reg.herm = True

    def project(self, q, outcome):
        """Collapse q onto |outcome> as if a Z measurement had given it.

        For callers that draw the randomness themselves.  Returns the Born
        probability the outcome had; refuses (ValueError) outcomes whose
        probability is below 1e-15, where renormalising would only amplify
        rounding noise.
        """
        cdef _Register reg = self._reg(q)
        if outcome not in (0, 1):
            raise ValueError(f"outcome must be 0 or 1, got {outcome!r}")
        cdef int o = outcome
        cdef Py_ssize_t pos = reg.qubits.index(q)
        cdef double p1 = self._p1(reg, (<Py_ssize_t> 1) << (reg.n - 1 - pos))
        cdef double prob = p1 if o else 1.0 - p1
        if prob < _TINY_PROB:
            raise ValueError(f"cannot project qubit {q!r} onto |{o}>: its probability is {prob:.3g}")
        self._collapse(reg, q, pos, o, prob)
        return prob

    def measure_detailed(self, q, p_flip0=0.0, p_flip1=0.0):
        """Projective Z measurement; returns (true_outcome, reported_outcome).

        The true outcome follows the Born rule and the state collapses (q ends
        alone in |outcome>, the rest of its register renormalised); the
        reported one is flipped with probability p_flip0 / p_flip1 when the
        true outcome is 0 / 1 (readout error).
        """
        cdef _Register reg = self._reg(q)
        cdef double f0 = _prob(p_flip0, "readout flip probability p_flip0")
        cdef double f1 = _prob(p_flip1, "readout flip probability p_flip1")
        cdef Py_ssize_t pos = reg.qubits.index(q)
        cdef double p1 = self._p1(reg, (<Py_ssize_t> 1) << (reg.n - 1 - pos))
        cdef double u = self._uniform()
        cdef double v = self._uniform()
        cdef int outcome = 1 if u < p1 else 0
        cdef double prob = p1 if outcome else 1.0 - p1
        if prob < _TINY_PROB:  # rounding at p1 ~ 0 or 1: never collapse onto noise
            outcome ^= 1
            prob = 1.0 - prob
        cdef int reported = outcome ^ (1 if v < (f1 if outcome else f0) else 0)
        self._collapse(reg, q, pos, outcome, prob)
        return outcome, reported

    def measure(self, q, p_flip0=0.0, p_flip1=0.0):
        """Projective Z measurement of q; returns the reported outcome."""
        return self.measure_detailed(q, p_flip0, p_flip1)[1]

    # -- whole-state access ----------------------------------------------------

    cdef list _distinct(self, qubits):
        qs = list(qubits)
        seen = set()
        for q in qs:
            self._reg(q)
            if q in seen:
                raise ValueError(f"qubit {q!r} listed twice")
            seen.add(q)
        return qs

    def set_state(self, qubits, rho):
        """Put the listed qubits into one new register in state rho.

        They are first traced out of wherever they were.  rho must be a
        2^k x 2^k Hermitian, unit-trace, positive semidefinite matrix
        (tolerance 1e-9).  Used e.g. for heralded entangled pairs.
        """
        qs = self._distinct(qubits)
        cdef Py_ssize_t k = len(qs)
        if k == 0:
            raise ValueError("set_state needs at least one qubit")
        if k > _MAX_REG:
            raise RegisterTooLargeError(f"set_state on {k} qubits; the limit is {_MAX_REG}")
        dim = 1 << k
        m = np.asarray(rho)
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"density matrix must be square, got shape {m.shape}")
        if m.shape[0] != dim:
            raise ValueError(
                f"density matrix for {k} qubit(s) must have shape ({dim}, {dim}), got {m.shape}")
        if m.dtype.kind not in "biufc":
            raise ValueError(f"density matrix must be numeric, got dtype {m.dtype}")
        m = np.array(m, dtype=np.complex128, order="C", copy=True)
        if not np.all(np.isfinite(m)):
            raise ValueError("density matrix has non-finite entries")
        herr = float(np.max(np.abs(m - m.conj().T)))
        if herr > 1e-9:
            raise ValueError(f"density matrix is not Hermitian (max |rho - rho^dag| = {herr:.3g})")
        tr = complex(np.trace(m))
        if abs(tr - 1.0) > 1e-9:
            raise ValueError(f"density matrix trace must be 1, got {tr.real:.12g}")
        lmin = float(np.linalg.eigvalsh(m).min())
        if lmin < -1e-9:
            raise ValueError(
                f"density matrix is not positive semidefinite (smallest eigenvalue {lmin:.3g})")
        m = 0.5 * (m + m.conj().T)  # exactly Hermitian: kernels rely on it
        for q in qs:
            self._detach(q)
        cdef _Register reg = _Register(qs, m)
        for q in qs:
            self._where[q] = reg

    def density_matrix(self, qubits):
        """Copy of the reduced density matrix over ``qubits`` in that order."""
        qs = self._distinct(qubits)
        if not qs:
            raise ValueError("density_matrix needs at least one qubit")
        wanted = set(qs)
        groups = []   # registers in order of first appearance
        seen = set()
        for q in qs:
            reg = self._where[q]
            if id(reg) not in seen:
                seen.add(id(reg))
                groups.append(reg)
        order = []
        full = None
        cdef _Register r
        for r in groups:
            keep = [i for i, q in enumerate(r.qubits) if q in wanted]
            order.extend(r.qubits[i] for i in keep)
            if len(keep) == r.n:
                part = r.mat
            else:
                t = r.mat.reshape((2,) * (2 * r.n))
                rows = list(range(r.n))
                cols = [i + r.n if i in keep else i for i in range(r.n)]
                outs = keep + [i + r.n for i in keep]
                kd = 1 << len(keep)
                part = np.einsum(t, rows + cols, outs).reshape(kd, kd)
            full = part if full is None else np.kron(full, part)
        k = len(qs)
        if order != qs:
            perm = [order.index(q) for q in qs]
            full = full.reshape((2,) * (2 * k)).transpose(perm + [i + k for i in perm])
        return np.array(full.reshape(1 << k, 1 << k), dtype=np.complex128, order="C", copy=True)


include "_sequence_runner.pxi"
