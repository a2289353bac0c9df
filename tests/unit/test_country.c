/*
 * test_country.c - unit tests of lib/country.c, the ISO 3166-1 alpha-2
 * table behind positions 1-2 of an HRID code (DESIGN §2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hrid/code.h"

static void test_count(void **state)
{
    (void)state;
    /* ISO 3166-1 has assigned 249 alpha-2 codes since SS in 2011. */
    assert_int_equal(hrid_country_count(), 249);
    assert_null(hrid_country_at(249, NULL));
    assert_null(hrid_country_at(SIZE_MAX, NULL));
}

static void test_sorted_and_round_trip(void **state)
{
    char prev[3] = "";

    (void)state;
    for (size_t i = 0; i < hrid_country_count(); i++) {
        const char *name = NULL;
        const char *cc = hrid_country_at(i, &name);

        assert_non_null(cc);
        assert_non_null(name);
        assert_true(name[0] != '\0');
        assert_int_equal(strlen(cc), 2);
        assert_true(cc[0] >= 'A' && cc[0] <= 'Z');
        assert_true(cc[1] >= 'A' && cc[1] <= 'Z');
        assert_true(strcmp(prev, cc) < 0);
        memcpy(prev, cc, 3);
        assert_ptr_equal(hrid_country_at(i, NULL), cc);
        assert_non_null(hrid_country_name(cc));
        assert_string_equal(hrid_country_name(cc), name);
    }
}

static void test_all_pairs(void **state)
{
    size_t n = 0;
    char cc[3] = "";

    (void)state;
    /* Exactly the listed codes are known: no pair outside the list. */
    for (char a = 'A'; a <= 'Z'; a++) {
        for (char b = 'A'; b <= 'Z'; b++) {
            cc[0] = a;
            cc[1] = b;
            if (hrid_country_name(cc) != NULL)
                n++;
        }
    }
    assert_int_equal(n, hrid_country_count());
}

static void test_known(void **state)
{
    (void)state;
    assert_string_equal(hrid_country_name("CN"), "China");
    assert_string_equal(hrid_country_name("DE"), "Germany");
    assert_string_equal(hrid_country_name("US"), "United States of America");
    assert_string_equal(hrid_country_name("JP"), "Japan");
    assert_string_equal(hrid_country_name("KR"), "Korea, Republic of");
    assert_non_null(hrid_country_name("SS"));   /* the newest, 2011 */
    assert_non_null(hrid_country_name("GB"));
}

static void test_unassigned(void **state)
{
    /* Each is two readable bytes: the contract reads exactly two, so ""
     * (one byte) is not a valid argument. */
    static const char *const bad[] = {
        "XK", "UK", "EU", "ZZ", "cn", "C", "AN", "QZ", "XX", "c1", "1C",
        "\xc3\x96", "C\xff",
    };

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(hrid_country_name(bad[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_sorted_and_round_trip),
        cmocka_unit_test(test_all_pairs),
        cmocka_unit_test(test_known),
        cmocka_unit_test(test_unassigned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
