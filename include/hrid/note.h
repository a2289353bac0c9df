/*
 * hrid/note.h - signed notes and transparency-log checkpoints in the C2SP
 * text formats (DESIGN §5): c2sp.org/signed-note, the format of Go's
 * golang.org/x/mod/sumdb/note, and c2sp.org/tlog-checkpoint.
 *
 * A signed note is a text and the signatures of one or more keys over it:
 *
 *   <text: one or more lines, each ending in '\n'>
 *   <a blank line>
 *   — <key name> <base64(key id[4] || Ed25519 signature[64])>
 *   ...one such line per signature
 *
 * The signature line starts with the em dash U+2014 (bytes E2 80 94) and
 * a space.  Each signature covers the text including its final newline.
 * A key is known by its name and its key id, the first four bytes,
 * big-endian, of SHA-256(name || 0x0A || 0x01 || public key), where 0x01
 * names the algorithm, Ed25519.  A verifier key ("vkey") is published as
 * the text <name>+<key id in 8 lower-case hex digits>+<base64(0x01 ||
 * public key)>.  Key names are non-empty UTF-8 without spaces and without
 * '+'.  base64 is the standard alphabet with padding (RFC 4648 §4).
 *
 * A checkpoint is the text of a note signed by a log: its origin (the
 * log's name), its tree size in decimal and the base64 of its RFC 9162
 * root hash, one a line, optionally followed by extension lines, which
 * are kept in the signed text and otherwise ignored.
 *
 * Keys are libsodium's Ed25519 keys: a 32-byte public key and a 64-byte
 * secret key whose second half is the public key.  Callers initialise
 * libsodium (sodium_init) as for any use of it.  Every function here is
 * reentrant: no global state, no allocation.
 */
#ifndef HRID_NOTE_H
#define HRID_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "hrid/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest note, text and signature lines together, that libhrid signs
 * or accepts.  A checkpoint with its origin of at most 255 bytes, a few
 * extension lines and a dozen witness cosignatures fits in under 2 KiB;
 * 4 KiB leaves room and bounds what a hostile note can make a verifier
 * scan. */
#define HRID_NOTE_MAX 4096

/* The most signature lines a note may carry, as Go's sumdb/note allows:
 * a note with more is refused as malformed before any is checked. */
#define HRID_NOTE_SIGS_MAX 100

/* Lengths of the parts of a vkey: the key id in hex, and the base64 of
 * the algorithm byte and the 32-byte public key. */
#define HRID_NOTE_KEY_ID_HEX_LEN 8
#define HRID_NOTE_KEY_B64_LEN    44

/* The length of the origin line of a checkpoint that struct
 * hrid_checkpoint holds, without the NUL. */
#define HRID_CHECKPOINT_ORIGIN_MAX 255

/* Writes the key id of the Ed25519 key pk named name (a NUL-terminated
 * string, taken as it is: validity is the caller's concern) to id. */
void hrid_note_key_id(const char *name, const unsigned char pk[32],
                      unsigned char id[4]);

/*
 * Writes the verifier key text <name>+<key id hex>+<base64(0x01 || pk)>
 * and a NUL to out (size bytes; strlen(name) + 55 always suffice).
 * Returns HRID_OK, HRID_EINVAL when name is not a valid key name, or
 * HRID_ERANGE when out is too small; on failure out is an empty string
 * when size > 0.
 */
int hrid_vkey_format(const char *name, const unsigned char pk[32], char *out,
                     size_t size, struct hrid_err *err);

/*
 * Parses a verifier key text (NUL-terminated) into its name, written with
 * a NUL to name (name_size bytes), and its public key, written to pk.
 * The key id may be in upper or lower case hex; it must be the one the
 * name and key give.  Returns HRID_OK, HRID_EINVAL with a message such as
 * "vkey key id 'c74f20a4' does not match its name and key" when the text
 * is not a valid Ed25519 vkey, or HRID_ERANGE when the name does not fit
 * name_size; on failure name is an empty string (when name_size > 0) and
 * pk is zeroed.
 */
int hrid_vkey_parse(const char *vkey, char *name, size_t name_size,
                    unsigned char pk[32], struct hrid_err *err);

/*
 * Signs the note text (len bytes at text) with the Ed25519 secret key sk
 * under the key name name, and writes the whole signed note (the text, a
 * blank line, one signature line) and a NUL to out (size bytes); its
 * length without the NUL goes to *out_len.  The text must be non-empty
 * valid UTF-8 ending in '\n', without a blank line and without control
 * characters other than '\n'.  Returns HRID_OK, HRID_EINVAL when the text
 * or the name is not valid, or HRID_ERANGE when the signed note would be
 * longer than HRID_NOTE_MAX or does not fit out; on failure out is an
 * empty string (when size > 0) and *out_len is 0.
 */
int hrid_note_sign(const char *text, size_t len, const char *name,
                   const unsigned char sk[64], char *out, size_t size,
                   size_t *out_len, struct hrid_err *err);

/*
 * Verifies that the signed note (len bytes at note; need not be
 * NUL-terminated) carries a valid signature by the key (name, pk).  The
 * note is parsed whole first: at most HRID_NOTE_MAX bytes of valid UTF-8
 * without control characters but '\n', a text, a blank line, and 1 to
 * HRID_NOTE_SIGS_MAX well-formed signature lines; anything else is
 * HRID_EINVAL with what is wrong.  Then lines by other keys (another name
 * or key id) are ignored, and every line by this key must verify:
 * one that does not is HRID_EVERIFY "signature by NAME does not verify",
 * and a note without any is HRID_EVERIFY "note is not signed by NAME".
 * On HRID_OK, *text_len is the length of the signed text, with which the
 * note starts; on failure it is 0.
 */
int hrid_note_verify(const char *note, size_t len, const char *name,
                     const unsigned char pk[32], size_t *text_len,
                     struct hrid_err *err);

/* A checkpoint's first three lines.  Plain data. */
struct hrid_checkpoint {
    char origin[HRID_CHECKPOINT_ORIGIN_MAX + 1];  /* NUL-terminated */
    uint64_t size;                                /* tree size */
    unsigned char root[32];                       /* RFC 9162 root hash */
};

/*
 * Writes the checkpoint body <origin>\n<size>\n<base64(root)>\n and a NUL
 * to out (out_size bytes; strlen(origin) + 68 always suffice), ready to
 * be signed with hrid_note_sign.  The origin must be a non-empty line of
 * at most HRID_CHECKPOINT_ORIGIN_MAX bytes of UTF-8 without control
 * characters.  Returns HRID_OK, HRID_EINVAL for a bad origin or
 * HRID_ERANGE when out is too small; on failure out is an empty string
 * when out_size > 0.
 */
int hrid_checkpoint_format(const char *origin, uint64_t size,
                           const unsigned char root[32], char *out,
                           size_t out_size, struct hrid_err *err);

/*
 * Parses a checkpoint body (len bytes at text, at most HRID_NOTE_MAX,
 * such as the signed text of a note): the origin line, the tree size (decimal, no leading zero, at
 * most 2^64 - 1), the base64 of a 32-byte root, and any extension lines,
 * each non-empty, every line ending in '\n'.  Returns HRID_OK or
 * HRID_EINVAL with a message such as "checkpoint line 2: tree size '012'
 * has a leading zero"; on failure *out is zeroed.
 */
int hrid_checkpoint_parse(const char *text, size_t len,
                          struct hrid_checkpoint *out, struct hrid_err *err);

/*
 * Opens a signed checkpoint: parses the verifier key vkey (as
 * hrid_vkey_parse), verifies the note with it (as hrid_note_verify) and
 * parses the signed text (as hrid_checkpoint_parse).  Returns HRID_OK or
 * the first failure's status and message; on failure *out is zeroed.
 * The origin is not compared with anything: a caller that follows one log
 * checks out->origin against the origin it expects.
 */
int hrid_checkpoint_open(const char *note, size_t len, const char *vkey,
                         struct hrid_checkpoint *out, struct hrid_err *err);

#ifdef __cplusplus
}
#endif
#endif
