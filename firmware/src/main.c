/* Test firmware: run the generated model once on the embedded test input and report the result.
 *
 * Output lines (semihosting on virtual boards, tinyml_putc on real boards):
 *   TINYML_STATUS <the model's invoke return value>
 *   TINYML_OUT <up to 32 output bytes as hex>         (repeated until every output's bytes are printed, output 0
 *                                                      first)
 *   TINYML_CHECKSUM <FNV-1a 32 of the output bytes, 8 hex digits>
 *   TINYML_DONE
 * Exit status: 0 success, 1 init failed, 2 invoke failed, 99 fault.
 * The model is reached through tinyml_app.h (APP_INIT, APP_INPUT(i), ... for the model's prefix); each input is
 * written straight into the arena at APP_INPUT(i), each output read at APP_OUTPUT(i).
 */
#include <stddef.h>
#include <stdint.h>

#include "input_data.h"
#include "tinyml_app.h"
#include "tinyml_hooks.h"
#include "tinyml_port.h"

#if defined(TINYML_TCMARK) && (APP_LAYER_COUNT > TC_MAX_LAYERS)
#error "too many layers for the instruction-count marker table (TC_MAX_LAYERS in tinyml_hooks.h)"
#endif

#define BYTES_PER_LINE 32u

static uint32_t fnv1a32(const uint8_t *p, size_t n, uint32_t h) {
    for (size_t i = 0; i < n; ++i) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

static char *put_hex(char *out, uint32_t v, int digits) {
    for (int i = digits - 1; i >= 0; --i, v >>= 4) {
        out[i] = "0123456789abcdef"[v & 0xFu];
    }
    return out + digits;
}

static void write_int_line(const char *tag, int32_t v) {
    char line[48];
    char *p = line;
    while (*tag) *p++ = *tag++;
    uint32_t u = (uint32_t)v;
    if (v < 0) {
        *p++ = '-';
        u = 0u - u;
    }
    char digits[12];
    int n = 0;
    do {
        digits[n++] = (char)('0' + u % 10u);
        u /= 10u;
    } while (u != 0u);
    while (n > 0) *p++ = digits[--n];
    *p++ = '\n';
    *p = '\0';
    tinyml_write(line);
}

static uint32_t write_output(const uint8_t *bytes, size_t n, uint32_t hash) {
    char line[16 + 2 * BYTES_PER_LINE];
    for (size_t start = 0; start < n; start += BYTES_PER_LINE) {
        char *p = line;
        for (const char *tag = "TINYML_OUT "; *tag;) *p++ = *tag++;
        for (size_t i = start; i < n && i < start + BYTES_PER_LINE; ++i) p = put_hex(p, bytes[i], 2);
        *p++ = '\n';
        *p = '\0';
        tinyml_write(line);
    }
    return fnv1a32(bytes, n, hash);
}

static void write_checksum(uint32_t hash) {
    char sum[32] = "TINYML_CHECKSUM ";
    char *p = put_hex(sum + 16, hash, 8);
    *p++ = '\n';
    *p = '\0';
    tinyml_write(sum);
}

int main(void) {
    tinyml_board_init();
    TC_MARK(TC_MARK_CALIB_A); /* two back-to-back marks: their distance is the cost of one mark */
    TC_MARK(TC_MARK_CALIB_B);
    if (APP_INIT() != 0) {
        tinyml_write("TINYML_ERROR init failed\n");
        return 1;
    }
    const uint8_t *src = tinyml_test_input;
    for (int i = 0; i < APP_INPUT_COUNT; ++i) {
        uint8_t *dst = (uint8_t *)APP_INPUT(i);
        for (uint32_t k = 0; k < tinyml_test_input_bytes[i]; ++k) dst[k] = src[k];
        src += tinyml_test_input_bytes[i];
    }
    TC_MARK(TC_MARK_INVOKE_BEGIN);
    int status = APP_INVOKE();
    TC_MARK(TC_MARK_INVOKE_END);
    write_int_line("TINYML_STATUS ", status);
    if (status != 0) {
        return 2;
    }
    uint32_t hash = 2166136261u;
    for (int i = 0; i < APP_OUTPUT_COUNT; ++i) {
        hash = write_output((const uint8_t *)APP_OUTPUT(i), APP_OUTPUT_BYTES(i), hash);
    }
    write_checksum(hash);
    tinyml_write("TINYML_DONE\n");
    return 0;
}
