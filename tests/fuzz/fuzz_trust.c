/*
 * fuzz_trust.c - libFuzzer driver for what libhrid reads from strangers
 * (DESIGN §5): signed notes and checkpoints (lib/note.c), verifier keys,
 * and scanned QR labels (lib/credential.c), on arbitrary bytes.
 *
 * The first input byte picks the parser; the rest is the input.  Beyond
 * "no crash, no sanitizer report", it checks what the headers promise: a
 * refusal leaves a terminated, non-empty message and cleared outputs; an
 * accepted note's text is a prefix of the note; an accepted checkpoint
 * formats back to the text it came from (when it has no extension
 * lines); an accepted vkey formats back to itself modulo the key id's
 * case; nothing random passes as signed by the fixed key.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "hrid/code.h"
#include "hrid/credential.h"
#include "hrid/note.h"

#define CHECK(x) do { if (!(x)) abort(); } while (0)

static unsigned char pk[32], sk[64];
static char vkey[320];

static void setup(void)
{
    static int done;
    unsigned char seed[32] = {42};

    if (done)
        return;
    CHECK(sodium_init() >= 0);
    crypto_sign_seed_keypair(pk, sk, seed);
    CHECK(hrid_vkey_format("fuzz.example/log", pk, vkey, sizeof vkey, NULL) ==
          HRID_OK);
    done = 1;
}

static void refused(const struct hrid_err *err)
{
    CHECK(err->status != HRID_OK);
    CHECK(memchr(err->msg, '\0', sizeof err->msg) != NULL);
    CHECK(err->msg[0] != '\0');
}

static void fuzz_note(const char *s, size_t n)
{
    struct hrid_err err;
    size_t text_len = 99;

    if (hrid_note_verify(s, n, "fuzz.example/log", pk, &text_len, &err) ==
        HRID_OK) {
        /* Only a note the key signed can pass; the fuzzer cannot forge. */
        CHECK(text_len > 0 && text_len < n);
        abort();
    }
    refused(&err);
    CHECK(text_len == 0);
}

static void fuzz_checkpoint(const char *s, size_t n)
{
    struct hrid_checkpoint cp;
    struct hrid_err err;
    char again[HRID_CHECKPOINT_ORIGIN_MAX + 80];

    if (hrid_checkpoint_parse(s, n, &cp, &err) == HRID_OK) {
        CHECK(cp.origin[0] != '\0');
        CHECK(hrid_checkpoint_format(cp.origin, cp.size, cp.root, again,
                                     sizeof again, &err) == HRID_OK);
        /* The three lines come back; anything after them was extensions. */
        CHECK(strlen(again) <= n && memcmp(again, s, strlen(again)) == 0);
        return;
    }
    refused(&err);
    CHECK(cp.size == 0 && cp.origin[0] == '\0');
    CHECK(hrid_checkpoint_open(s, n, vkey, &cp, &err) != HRID_OK);
}

static void fuzz_vkey(const char *s, size_t n)
{
    char *z = malloc(n + 1), name[300], again[400];
    unsigned char key[32];
    struct hrid_err err;

    CHECK(z != NULL);
    memcpy(z, s, n);
    z[n] = '\0';
    if (hrid_vkey_parse(z, name, sizeof name, key, &err) == HRID_OK) {
        CHECK(hrid_vkey_format(name, key, again, sizeof again, &err) ==
              HRID_OK);
        CHECK(strcasecmp(again, z) == 0);
    } else {
        refused(&err);
        CHECK(name[0] == '\0');
    }
    free(z);
}

static void fuzz_label(const char *s, size_t n)
{
    char code[HRID_CODE_LEN + 1];
    struct hrid_err err;

    CHECK(hrid_label_verify(s, n, pk, code, &err) != HRID_OK);
    refused(&err);
    CHECK(code[0] == '\0' || strlen(code) == HRID_CODE_LEN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data + 1;

    setup();
    if (size == 0)
        return 0;
    switch (data[0] % 4) {
    case 0: fuzz_note(s, size - 1); break;
    case 1: fuzz_checkpoint(s, size - 1); break;
    case 2: fuzz_vkey(s, size - 1); break;
    case 3: fuzz_label(s, size - 1); break;
    }
    return 0;
}
