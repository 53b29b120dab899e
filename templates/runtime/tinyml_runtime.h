/* tinyml_runtime.h: fixed-point helpers shared by the generated layers (portable C99).
 *
 * Every helper reproduces the integer arithmetic of TensorFlow Lite Micro's int8 reference kernels bit for bit:
 * requantization is a rounding doubling high multiply followed by a rounding right shift ("double rounding"),
 * and the softmax/logistic paths use Q-format fixed-point exp and reciprocal approximations.
 * Target-specific helpers (e.g. Cortex-M DSP intrinsics) go in the TINYML_HAVE_DSP block at the end.
 */
#ifndef TINYML_RUNTIME_H
#define TINYML_RUNTIME_H

#include <stdint.h>
#include <string.h>
#include <math.h>

#if defined(__GNUC__) || defined(__clang__)
#define TINYML_ALIGNED(n) __attribute__((aligned(n)))
#else
#define TINYML_ALIGNED(n)
#endif

static inline int32_t tinyml_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t tinyml_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
static inline int32_t tinyml_clamp(int32_t x, int32_t lo, int32_t hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* Left shift that wraps like the two's complement hardware instead of overflowing. */
static inline int32_t tinyml_shl(int32_t x, int s) { return (int32_t)((uint32_t)x << s); }

/* round(a * b / 2^31) with the single overflow case (INT32_MIN * INT32_MIN) saturated. The reference adds a nudge
 * of 2^30 (ab >= 0) or 1 - 2^30 (ab < 0) and divides by 2^31 truncating; for ab < 0 that truncation is
 * ceil((ab + 1 - 2^30) / 2^31) = floor((ab + 2^30) / 2^31), so both signs are one arithmetic shift of ab + 2^30. */
static inline int32_t tinyml_srdhm(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) return INT32_MAX;
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* x / 2^e rounded to nearest, ties away from zero. */
static inline int32_t tinyml_rdbypot(int32_t x, int e) {
    const int32_t mask = (int32_t)(((int64_t)1 << e) - 1);
    const int32_t rem = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (rem > threshold ? 1 : 0);
}

/* x * m * 2^shift, m a Q31 multiplier: the requantization step of every int8 kernel. */
static inline int32_t tinyml_mbqm(int32_t x, int32_t m, int shift) {
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return tinyml_rdbypot(tinyml_srdhm(tinyml_shl(x, left), m), right);
}

/* Requantize an accumulator and clamp it to the activation range. */
static inline int8_t tinyml_requant_s8(int32_t acc, int32_t m, int shift, int32_t zp, int32_t lo, int32_t hi) {
    return (int8_t)tinyml_clamp(tinyml_mbqm(acc, m, shift) + zp, lo, hi);
}

/* x * 2^e with saturation (e > 0), the rounding division for e < 0. */
static inline int32_t tinyml_sat_pot(int32_t x, int e) {
    if (e <= 0) return e == 0 ? x : tinyml_rdbypot(x, -e);
    {
        const int32_t threshold = (int32_t)(((int64_t)1 << (31 - e)) - 1);
        if (x > threshold) return INT32_MAX;
        if (x < -threshold) return INT32_MIN;
        return tinyml_shl(x, e);
    }
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out. */
static inline int32_t tinyml_exp_quarter(int32_t a) {
    const int32_t x = a + (1 << 28);
    const int32_t x2 = tinyml_srdhm(x, x);
    const int32_t x3 = tinyml_srdhm(x2, x);
    const int32_t x4 = tinyml_srdhm(x2, x2);
    const int32_t x4_over_4 = tinyml_rdbypot(x4, 2);
    const int32_t poly = tinyml_rdbypot(tinyml_srdhm(x4_over_4 + x3, 715827883) + x2, 1);
    return 1895147668 + tinyml_srdhm(1895147668, x + poly);
}

/* exp(a) for a <= 0 given with `int_bits` integer bits (Q int_bits . 31-int_bits); result in Q0.31. */
static inline int32_t tinyml_exp_neg(int32_t a, int int_bits) {
    static const int32_t mult[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int frac = 31 - int_bits;
    const int32_t quarter = (int32_t)1 << (frac - 2);
    const int32_t a_mod = (a & (quarter - 1)) - quarter;
    int32_t result = tinyml_exp_quarter(tinyml_sat_pot(a_mod, int_bits));
    const int32_t rem = a_mod - a;
    int k;
    for (k = -2; k <= 4; ++k) {
        if (int_bits > k && (rem & ((int32_t)1 << (frac + k)))) result = tinyml_srdhm(result, mult[k + 2]);
    }
    if (int_bits > 5 && a < -((int32_t)1 << (36 - int_bits))) result = 0;
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out (Newton-Raphson in Q2.29). */
static inline int32_t tinyml_one_over_one_plus(int32_t a) {
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_den = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = 1515870810 + tinyml_srdhm(half_den, -1010580540);
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t one_minus = ((int32_t)1 << 29) - tinyml_srdhm(half_den, x);
        x = x + tinyml_sat_pot(tinyml_srdhm(x, one_minus), 2);
    }
    return tinyml_sat_pot(x, 1);
}

/* 1 / x for a Q(int_digits) positive sum x: Q0.31 mantissa and the count of bits above one. */
static inline int32_t tinyml_reciprocal(int32_t x, int int_digits, int *bits_over_unit) {
    int headroom = 0;
    uint32_t ux = (uint32_t)x;
    while (headroom < 32 && !(ux & 0x80000000u)) { ux <<= 1; ++headroom; }
    *bits_over_unit = int_digits - headroom;
    return tinyml_one_over_one_plus((int32_t)(ux - 0x80000000u));
}

/* logistic(a), a in Q4.27; result in Q0.31. */
static inline int32_t tinyml_logistic_q4(int32_t a) {
    const int32_t abs_a = a > 0 ? a : -a;
    const int32_t pos = tinyml_one_over_one_plus(tinyml_exp_neg(-abs_a, 4));
    if (a == 0) return (int32_t)1 << 30;
    return a > 0 ? pos : INT32_MAX - pos;
}

/* 16-bit helpers of the hard-swish kernel. */
static inline int16_t tinyml_srdhm16(int16_t a, int16_t b) {
    if (a == b && a == INT16_MIN) return INT16_MAX;
    {
        const int32_t ab = (int32_t)a * (int32_t)b;
        const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
        return (int16_t)((ab + nudge) / (1 << 15));
    }
}

static inline int16_t tinyml_sdhm16(int16_t a, int16_t b) {
    if (a == b && a == INT16_MIN) return INT16_MAX;
    return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

static inline int16_t tinyml_rdbypot16(int16_t x, int e) {
    const int16_t mask = (int16_t)((1 << e) - 1);
    const int16_t rem = (int16_t)(x & mask);
    const int16_t threshold = (int16_t)((mask >> 1) + (x < 0 ? 1 : 0));
    return (int16_t)((x >> e) + (rem > threshold ? 1 : 0));
}

static inline int16_t tinyml_sat_shl16(int16_t x, int s) {
    return (int16_t)tinyml_clamp((int32_t)x * (1 << s), INT16_MIN, INT16_MAX);
}

/* Little-endian float access through bytes, so float tensors may live in the int8 arena. */
static inline float tinyml_load_f32(const int8_t *p) { float v; memcpy(&v, p, sizeof v); return v; }
static inline void tinyml_store_f32(int8_t *p, float v) { memcpy(p, &v, sizeof v); }

/* Where one patch-stage layer works in one patch (all numbers precomputed by the code generator): the region of
 * each activation operand starts in_off bytes into its buffer, whose rows are in_row bytes apart; the first
 * operand's region has in_h x in_w pixels and is padded by pad_t/pad_b/pad_l/pad_r pixels; the output region of
 * out_h x out_w pixels starts out_off bytes into the output buffer, whose rows are out_row bytes apart. */
#ifdef TINYML_WIDE_REGIONS
typedef struct {
    int32_t in_off[2];
    int32_t in_row[2];
    int32_t out_off;
    int32_t out_row;
    int16_t in_h, in_w;
    int16_t pad_t, pad_b, pad_l, pad_r;
    int16_t out_h, out_w;
} tinyml_region_t;
#else
/* 28 bytes: row strides below 64 KiB, heights, widths and pads below 256 (else the model defines
 * TINYML_WIDE_REGIONS before including this header) */
typedef struct {
    int32_t in_off[2];
    int32_t out_off;
    uint16_t in_row[2], out_row;
    uint8_t in_h, in_w;
    uint8_t pad_t, pad_b, pad_l, pad_r;
    uint8_t out_h, out_w;
} tinyml_region_t;
#endif

/* A patch stage on a grid of patches keeps, per layer, one row part per patch row and one column part per patch
 * column; a patch's tinyml_region_t is assembled from its two parts (tinyml_region_at): each region's byte offset
 * is its first row (oy) times its row stride plus its first byte inside that row (ox). Index 0, 1: the activation
 * inputs; 2: the output. */
#ifdef TINYML_WIDE_REGIONS
typedef struct {
    int32_t oy[3];
    int16_t in_h, pad_t, pad_b, out_h;
} tinyml_region_y_t;
typedef struct {
    int32_t ox[3], row[3];
    int16_t in_w, pad_l, pad_r, out_w;
} tinyml_region_x_t;
#else
typedef struct {
    uint16_t oy[3];
    uint8_t in_h, pad_t, pad_b, out_h;
} tinyml_region_y_t;
typedef struct {
    uint16_t ox[3], row[3];
    uint8_t in_w, pad_l, pad_r, out_w;
} tinyml_region_x_t;
#endif

#ifdef TINYML_REGION_GRID /* defined by a model whose patch stage runs on a grid: one copy serves every layer */
static void tinyml_region_at(tinyml_region_t *r, const tinyml_region_y_t *y, const tinyml_region_x_t *x) {
    r->in_off[0] = (int32_t)y->oy[0] * x->row[0] + x->ox[0];
    r->in_off[1] = (int32_t)y->oy[1] * x->row[1] + x->ox[1];
    r->out_off = (int32_t)y->oy[2] * x->row[2] + x->ox[2];
    r->in_row[0] = x->row[0];
    r->in_row[1] = x->row[1];
    r->out_row = x->row[2];
    r->in_h = y->in_h;
    r->in_w = x->in_w;
    r->pad_t = y->pad_t;
    r->pad_b = y->pad_b;
    r->pad_l = x->pad_l;
    r->pad_r = x->pad_r;
    r->out_h = y->out_h;
    r->out_w = x->out_w;
}
#endif

#ifdef TINYML_HAVE_DSP
/* Cortex-M DSP-extension helpers (ACLE __smlad, __sxtb16, ...) are added here by SIMD kernels. */
#endif

/* tanh(a), a in Q4.27; result in Q0.31: (1 - e) / (1 + e) with e = exp(-2|a|), Newton-Raphson in Q2.29. */
static inline int32_t tinyml_tanh_q4(int32_t a) {
    const int32_t e = tinyml_exp_neg(a < 0 ? a : -a, 5);
    const int64_t sum = (int64_t)e + INT32_MAX;
    const int32_t half_den = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = 1515870810 + tinyml_srdhm(half_den, -1010580540);
    int32_t t;
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t one_minus = ((int32_t)1 << 29) - tinyml_srdhm(half_den, x);
        x = x + tinyml_sat_pot(tinyml_srdhm(x, one_minus), 2);
    }
    t = tinyml_sat_pot(x - ((int32_t)1 << 29), 2);
    if (a == 0) return 0;
    return a < 0 ? -t : t;
}

/* 1 / sqrt(v) as a Q31 multiplier and a left shift (Newton-Raphson in Q3.28); v <= 1 gives the largest one. */
static inline void tinyml_inv_sqrt(int32_t v, int32_t *mult, int *shift) {
    int s = 11, clz = 0, pairs, i;
    uint32_t u;
    int32_t half_in, x;
    if (v <= 1) {
        *mult = INT32_MAX;
        *shift = 0;
        return;
    }
    while (v >= ((int32_t)1 << 29)) { v /= 4; ++s; }
    for (u = (uint32_t)v; !(u & 0x80000000u); u <<= 1) ++clz;
    pairs = (clz - 1) / 2 - 1;
    s -= pairs;
    v = tinyml_shl(v, 2 * pairs);
    half_in = tinyml_rdbypot(v >> 1, 1);
    x = (int32_t)1 << 28;
    for (i = 0; i < 5; ++i) {
        const int32_t x3 = tinyml_sat_pot(tinyml_srdhm(tinyml_srdhm(x, x), x), 6);
        x = tinyml_sat_pot(tinyml_srdhm(((int32_t)1 << 28) + ((int32_t)1 << 27), x) - tinyml_srdhm(half_in, x3), 3);
    }
    x = tinyml_srdhm(x, 1518500250);
    if (s < 0) {
        x = tinyml_shl(x, -s);
        s = 0;
    }
    *mult = x;
    *shift = -s;
}

static inline int tinyml_clz32(uint32_t u) {
    int n = 0;
    if (u == 0) return 32;
    while (!(u & 0x80000000u)) { u <<= 1; ++n; }
    return n;
}

static inline int32_t tinyml_sat_add(int64_t v) { return (int32_t)(v > INT32_MAX ? INT32_MAX : (v < INT32_MIN ? INT32_MIN : v)); }

/* log(x) of a sum of exps x >= 1 in Q12.19; result in Q5.26 (mantissa polynomial plus exponent times log 2). */
static inline int32_t tinyml_log_q12(int32_t x) {
    const int32_t quarter = tinyml_rdbypot((int32_t)1 << 29, 6);
    const int clz_a = tinyml_clz32((uint32_t)x);
    const int32_t r_a = tinyml_sat_pot(tinyml_srdhm(tinyml_sat_pot(x, clz_a - 1), 1518500250), 1);
    const int32_t za_adj = tinyml_sat_add((int64_t)tinyml_sat_pot(12 - clz_a, 25) + quarter);
    const int zb_head = tinyml_clz32((uint32_t)tinyml_srdhm(x, 1518500250)) - 1;
    const int32_t r_b = tinyml_sat_pot(x, zb_head);
    const int32_t zb_adj = tinyml_sat_add((int64_t)tinyml_sat_pot(12 - zb_head, 25) - quarter);
    const int32_t r = r_a < r_b ? r_a : r_b;
    const int32_t z_adj = za_adj > zb_adj ? za_adj : zb_adj;
    const int64_t ps = (int64_t)r + 1805811301;
    const int32_t p = (int32_t)((ps + (ps >= 0 ? 1 : -1)) / 2);
    const int32_t q = 2 * (r - 1805811301);
    const int32_t sq = tinyml_srdhm(q, q);
    const int32_t num = tinyml_srdhm(q, r) + tinyml_srdhm(tinyml_srdhm(q, sq), 117049297);
    const int32_t den = tinyml_srdhm(p, 1057819769 + q + tinyml_srdhm(127690142, sq)) + tinyml_srdhm(638450708, q);
    const int32_t total = tinyml_srdhm(z_adj, 1488522236) + tinyml_srdhm(tinyml_rdbypot(num, 6), tinyml_one_over_one_plus(den));
    return tinyml_sat_pot(total, 1);
}

#endif /* TINYML_RUNTIME_H */
