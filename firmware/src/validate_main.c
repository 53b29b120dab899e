/* Validation firmware: boot banner and self-test, then the framed validation protocol on the console UART
 * (tinyml_protocol.h, docs/validate.md): the host writes input tensors, asks for an inference and reads back the
 * output tensors, the status and the cycles of the whole inference and of every layer.
 *
 * Every request frame is checked (length, CRC-32, type, ranges) and answered with exactly one reply; a frame that
 * stalls for TINYML_BYTE_TIMEOUT_MS is answered with NAK TIMEOUT and dropped. After every reset the
 * firmware sends a BOOT frame, so the host notices a board that reset mid-run.
 */
#include <stddef.h>
#include <stdint.h>

#include "input_data.h"
#include "tinyml_app.h"
#include "tinyml_hooks.h"
#include "tinyml_port.h"
#include "tinyml_protocol.h"

#ifndef TINYML_BYTE_TIMEOUT_MS
#define TINYML_BYTE_TIMEOUT_MS 500u /* a byte lasts 87 us at 115200 baud: a pause this long means a lost frame */
#endif

/* --- the model's I/O (docs/c_api.md): tensors live in the model's arena, written and read in place --- */
#define VAL_INPUTS ((unsigned)APP_INPUT_COUNT)
#define VAL_OUTPUTS ((unsigned)APP_OUTPUT_COUNT)
static uint8_t *val_input(unsigned i) { return (uint8_t *)APP_INPUT((int)i); }
static uint8_t *val_output(unsigned i) { return (uint8_t *)APP_OUTPUT((int)i); }
static uint32_t val_input_bytes(unsigned i) { return (uint32_t)APP_INPUT_BYTES((int)i); }
static uint32_t val_output_bytes(unsigned i) { return (uint32_t)APP_OUTPUT_BYTES((int)i); }
static int val_invoke(void) { return APP_INVOKE(); }

uint32_t tinyml_layer_t0;
uint64_t tinyml_layer_cycles[APP_LAYER_COUNT];
static uint32_t timer_kind, invoke_count;
static uint64_t last_cycles;

static uint8_t rx[8u + TP_MAX_REQUEST];

/* --- CRC-32 (IEEE), four bits at a time --- */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
    static const uint32_t nib[16] = {0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
                                     0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
                                     0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};
    crc = ~crc;
    for (size_t i = 0; i < n; ++i) {
        crc ^= p[i];
        crc = (crc >> 4) ^ nib[crc & 0xFu];
        crc = (crc >> 4) ^ nib[crc & 0xFu];
    }
    return ~crc;
}

/* --- little-endian helpers --- */
static uint8_t *put_u16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}
static uint8_t *put_u32(uint8_t *p, uint32_t v) { return put_u16(put_u16(p, v & 0xFFFFu), v >> 16); }
static uint8_t *put_u64(uint8_t *p, uint64_t v) { return put_u32(put_u32(p, (uint32_t)v), (uint32_t)(v >> 32)); }
static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* --- frame output: header and payload pieces, the CRC computed on the way --- */
static uint32_t tx_crc;
static void send_bytes(const uint8_t *p, size_t n) {
    tx_crc = crc32_update(tx_crc, p, n);
    for (size_t i = 0; i < n; ++i) {
        tinyml_console_putc(p[i]);
    }
}
static void frame_begin(uint32_t type, uint32_t seq, uint32_t length) {
    tinyml_console_putc(TP_MAGIC0);
    tinyml_console_putc(TP_MAGIC1);
    uint8_t h[4] = {(uint8_t)type, (uint8_t)seq, (uint8_t)length, (uint8_t)(length >> 8)};
    tx_crc = 0;
    send_bytes(h, sizeof(h));
}
static void frame_end(void) {
    uint8_t c[4];
    put_u32(c, tx_crc);
    for (int i = 0; i < 4; ++i) {
        tinyml_console_putc(c[i]);
    }
}
static void send_frame(uint32_t type, uint32_t seq, const uint8_t *payload, uint32_t length) {
    frame_begin(type, seq, length);
    send_bytes(payload, length);
    frame_end();
}
static void send_nak(uint32_t seq, uint32_t code, uint32_t type) {
    uint8_t p[2] = {(uint8_t)code, (uint8_t)type};
    send_frame(TP_R_NAK, seq, p, 2u);
}

static void send_info(uint32_t type, uint32_t seq) {
    uint8_t p[50u + 4u * (VAL_INPUTS + VAL_OUTPUTS)], *q = p;
    const char *id = TINYML_BOARD_ID;
    size_t id_len = 0;
    while (id[id_len] && id_len < 24u) {
        ++id_len;
    }
    *q++ = TP_VERSION;
    *q++ = (uint8_t)timer_kind;
    *q++ = (uint8_t)tinyml_clock.rated;
    *q++ = VAL_INPUTS;
    *q++ = VAL_OUTPUTS;
    *q++ = 0u;
    q = put_u16(q, APP_LAYER_COUNT);
    q = put_u32(q, TINYML_MODEL_ID);
    q = put_u32(q, tinyml_clock.hz);
    q = put_u32(q, APP_ARENA_BYTES);
    q = put_u16(put_u16(q, TP_MAX_REQUEST), TP_MAX_CHUNK);
    for (unsigned i = 0; i < VAL_INPUTS; ++i) q = put_u32(q, val_input_bytes(i));
    for (unsigned i = 0; i < VAL_OUTPUTS; ++i) q = put_u32(q, val_output_bytes(i));
    *q++ = (uint8_t)id_len;
    for (size_t i = 0; i < id_len; ++i) *q++ = (uint8_t)id[i];
    send_frame(type, seq, p, (uint32_t)(q - p));
}

/* One inference on the current inputs, timed as a whole and per layer. */
static int run_inference(void) {
    for (unsigned i = 0; i < APP_LAYER_COUNT; ++i) tinyml_layer_cycles[i] = 0;
    TC_MARK(TC_MARK_INVOKE_BEGIN);
    uint32_t t0 = tinyml_cycles_now();
    int status = val_invoke();
    uint32_t t1 = tinyml_cycles_now();
    TC_MARK(TC_MARK_INVOKE_END);
    last_cycles = (uint32_t)(t1 - t0);
    invoke_count++;
    return status;
}

static void send_result(uint32_t seq, int status) {
    uint32_t length = 20u + 4u * VAL_OUTPUTS + 8u * APP_LAYER_COUNT;
    uint8_t head[20 + 4 * VAL_OUTPUTS], *q = head;
    q = put_u32(q, (uint32_t)status);
    q = put_u32(q, invoke_count - 1u);
    q = put_u64(q, last_cycles);
    q = put_u16(put_u16(q, APP_LAYER_COUNT), 0u);
    for (unsigned i = 0; i < VAL_OUTPUTS; ++i) q = put_u32(q, crc32_update(0, val_output(i), val_output_bytes(i)));
    frame_begin(TP_R_RESULT, seq, length);
    send_bytes(head, sizeof(head));
    for (unsigned i = 0; i < APP_LAYER_COUNT; ++i) {
        uint8_t c[8];
        put_u64(c, tinyml_layer_cycles[i]);
        send_bytes(c, 8u);
    }
    frame_end();
}

/* --- requests --- */
static void handle_write(uint32_t seq, const uint8_t *p, uint32_t n) {
    if (n < 5u) {
        send_nak(seq, TP_NAK_LENGTH, TP_WRITE);
        return;
    }
    unsigned index = p[0];
    uint32_t offset = get_u32(p + 1), count = n - 5u;
    uint8_t *dst = val_input(index);
    if (dst == NULL || offset > val_input_bytes(index) || count > val_input_bytes(index) - offset) {
        send_nak(seq, TP_NAK_RANGE, TP_WRITE);
        return;
    }
    for (uint32_t i = 0; i < count; ++i) dst[offset + i] = p[5 + i];
    uint8_t ack[4];
    put_u32(ack, offset + count);
    send_frame(TP_R_ACK, seq, ack, 4u);
}

static void handle_read(uint32_t seq, const uint8_t *p, uint32_t n) {
    if (n != 7u) {
        send_nak(seq, TP_NAK_LENGTH, TP_READ);
        return;
    }
    unsigned index = p[0];
    uint32_t offset = get_u32(p + 1), count = (uint32_t)p[5] | ((uint32_t)p[6] << 8);
    const uint8_t *src = val_output(index);
    if (src == NULL || count > TP_MAX_CHUNK || offset > val_output_bytes(index) ||
        count > val_output_bytes(index) - offset) {
        send_nak(seq, TP_NAK_RANGE, TP_READ);
        return;
    }
    send_frame(TP_R_DATA, seq, src + offset, count);
}

static void dispatch(uint32_t type, uint32_t seq, const uint8_t *p, uint32_t n) {
    static const uint8_t no_payload[1] = {0};
    switch (type) {
    case TP_INFO:
        send_info(TP_R_INFO, seq);
        break;
    case TP_WRITE:
        handle_write(seq, p, n);
        break;
    case TP_INVOKE:
        send_result(seq, run_inference());
        break;
    case TP_READ:
        handle_read(seq, p, n);
        break;
    case TP_RESET:
        send_frame(TP_R_ACK, seq, no_payload, 0u);
        for (volatile uint32_t i = 0; i < 100000u; ++i) { /* let the UART shift out the reply */
        }
        tinyml_board_reset();
    case TP_EXIT:
        send_frame(TP_R_ACK, seq, no_payload, 0u);
        for (volatile uint32_t i = 0; i < 100000u; ++i) {
        }
        tinyml_exit(0);
    default:
        send_nak(seq, TP_NAK_TYPE, type);
    }
}

/* Receive and answer one request. Bytes before the magic (line noise, a host's stray text) are skipped. */
static void serve_one(void) {
    int c = tinyml_console_getc(0u);
    if (c != (int)TP_MAGIC0) {
        return;
    }
    uint32_t timeout = TINYML_BYTE_TIMEOUT_MS;
    c = tinyml_console_getc(timeout);
    if (c != (int)TP_MAGIC1) {
        return;
    }
    for (uint32_t i = 0; i < 4u; ++i) { /* type, seq, length */
        if ((c = tinyml_console_getc(timeout)) < 0) {
            send_nak(i >= 2u ? rx[1] : 0u, TP_NAK_TIMEOUT, i >= 1u ? rx[0] : 0u);
            return;
        }
        rx[i] = (uint8_t)c;
    }
    uint32_t type = rx[0], seq = rx[1], n = (uint32_t)rx[2] | ((uint32_t)rx[3] << 8);
    if (n > TP_MAX_REQUEST) { /* the rest of the frame is skipped as noise before the next magic */
        send_nak(seq, TP_NAK_LENGTH, type);
        return;
    }
    for (uint32_t i = 0; i < n + 4u; ++i) {
        if ((c = tinyml_console_getc(timeout)) < 0) {
            send_nak(seq, TP_NAK_TIMEOUT, type);
            return;
        }
        rx[4 + i] = (uint8_t)c;
    }
    if (crc32_update(0, rx, 4u + n) != get_u32(rx + 4 + n)) {
        send_nak(seq, TP_NAK_CRC, type);
        return;
    }
    dispatch(type, seq, rx + 4, n);
}

/* --- boot banner --- */
static char *put_dec(char *p, uint64_t v) {
    char d[21];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) *p++ = d[--n];
    return p;
}
static char *put_str(char *p, const char *s) {
    while (*s) *p++ = *s++;
    return p;
}
static char *put_hex32(char *p, uint32_t v) {
    for (int i = 7; i >= 0; --i) p[7 - i] = "0123456789abcdef"[(v >> (4 * i)) & 0xFu];
    return p + 8;
}
static void line(char *start, char *end) {
    *end++ = '\n';
    *end = '\0';
    tinyml_write(start);
}

static uint32_t fnv1a32(const uint8_t *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 16777619u;
    return h;
}

static void banner(int init_status) {
    static const char *const timers[] = {"no cycle counter", "DWT cycle counter", "SysTick cycle counter"};
    char b[160], *p;
    tinyml_write("\ntinyml validation firmware, protocol v1\n");
    line(b, put_str(put_str(put_str(put_str(b, "board: "), TINYML_BOARD_ID), ", console "), TINYML_CONSOLE_NAME));
    p = put_str(put_dec(put_str(b, "clock: "), tinyml_clock.hz), " Hz (");
    p = put_str(put_str(p, tinyml_clock.rated ? "" : "reset clock, rated clock NOT reached: "), tinyml_clock.note);
    line(b, put_str(put_str(put_str(p, "), "), timers[timer_kind]), ""));
    p = put_str(put_str(put_str(b, "model: "), TINYML_MODEL_NAME), ", arena ");
    p = put_str(put_dec(put_str(put_dec(p, APP_ARENA_BYTES), " B, "), APP_LAYER_COUNT), " layers, in ");
    line(b, put_str(put_dec(put_str(put_dec(p, val_input_bytes(0)), " B, out "), val_output_bytes(0)), " B"));
    if (init_status != 0) {
        line(b, put_dec(put_str(b, "self-test: init failed, status -"), (uint32_t)-init_status));
        return;
    }
    const uint8_t *src = tinyml_test_input;
    for (unsigned k = 0; k < VAL_INPUTS; ++k) {
        for (uint32_t i = 0; i < val_input_bytes(k); ++i) val_input(k)[i] = src[i];
        src += tinyml_test_input_bytes[k];
    }
    int status = run_inference();
    p = put_str(put_str(b, "self-test: status "), status == 0 ? "0" : "error");
    p = put_str(put_dec(put_str(p, ", "), last_cycles), " cycles, output FNV-1a ");
    line(b, put_hex32(p, fnv1a32(val_output(0), val_output_bytes(0))));
}

int main(void) {
    tinyml_board_init();
    timer_kind = tinyml_cycles_start();
    TC_MARK(TC_MARK_CALIB_A);
    TC_MARK(TC_MARK_CALIB_B);
    int init_status = APP_INIT();
    banner(init_status);
    send_info(TP_R_BOOT, 0u);
    for (;;) {
        serve_one();
    }
}
