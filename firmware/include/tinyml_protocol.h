/* The validation protocol's frame format and message types (docs/validate.md describes the whole protocol).
 *
 * Frame: A5 5A | type u8 | seq u8 | length u16 LE | payload [length] | CRC-32 u32 LE
 * The CRC-32 (IEEE 802.3: reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF, as zlib's
 * crc32) covers type, seq, length and payload. Requests come from the host; every reply echoes the request's seq.
 */
#ifndef TINYML_PROTOCOL_H
#define TINYML_PROTOCOL_H

#define TP_MAGIC0 0xA5u
#define TP_MAGIC1 0x5Au
#define TP_VERSION 1u
#define TP_MAX_REQUEST 1024u /* request payload limit (the host sends tensors in chunks) */
#define TP_MAX_CHUNK 1024u   /* READ reply limit */

/* requests (host -> board) */
#define TP_INFO 0x01u   /* -> INFO */
#define TP_WRITE 0x02u  /* u8 input, u32 offset, bytes -> ACK (u32 offset + length) */
#define TP_INVOKE 0x03u /* -> RESULT */
#define TP_READ 0x04u   /* u8 output, u32 offset, u16 length -> DATA */
#define TP_RESET 0x05u  /* -> ACK, then a system reset (the board then sends BOOT) */
#define TP_EXIT 0x06u   /* -> ACK, then the firmware stops (QEMU exits) */
/* replies and events (board -> host) */
#define TP_R_INFO 0x81u
#define TP_R_ACK 0x82u
#define TP_R_RESULT 0x83u
#define TP_R_DATA 0x84u
#define TP_R_NAK 0x8Eu  /* u8 code, u8 request type */
#define TP_R_BOOT 0x8Fu /* sent once after each reset, after the banner; payload as INFO */
/* NAK codes */
#define TP_NAK_CRC 1u
#define TP_NAK_LENGTH 2u
#define TP_NAK_TYPE 3u
#define TP_NAK_RANGE 4u
#define TP_NAK_TIMEOUT 5u

#endif /* TINYML_PROTOCOL_H */
