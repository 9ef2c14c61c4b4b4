#include "text/unicode_chars.h"

#include <utf8proc.h>

static utf8proc_category_t category_of(int32_t cp)
{
    return (utf8proc_category_t)utf8proc_category(cp);
}

bool unicode_is_whitespace(int32_t cp)
{
    /* White_Space is exactly Zs, Zl, Zp plus these controls. */
    if ((cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85)
        return true;
    if (cp < 0x80)
        return false;
    utf8proc_category_t c = category_of(cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

bool unicode_is_bert_control(int32_t cp)
{
    if (cp == '\t' || cp == '\n' || cp == '\r')
        return false;
    /* tokenizers' is_other() (from the unicode_categories crate) is Cc | Cf | Co: unassigned
     * (Cn) and surrogate code points are not "other" there. That crate's tables date from
     * 2016 (Unicode 9 or older), so for characters assigned since then tokenizers and
     * utf8proc can disagree; the same holds for Mn and P* below. */
    utf8proc_category_t c = category_of(cp);
    return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CO;
}

bool unicode_is_bert_punctuation(int32_t cp)
{
    if (cp < 0x80)
        return (cp >= 0x21 && cp <= 0x2f) || (cp >= 0x3a && cp <= 0x40) ||
               (cp >= 0x5b && cp <= 0x60) || (cp >= 0x7b && cp <= 0x7e);
    utf8proc_category_t c = category_of(cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

bool unicode_is_cjk_ideograph(int32_t cp)
{
    return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
           (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b73f) ||
           (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) ||
           (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

bool unicode_is_nonspacing_mark(int32_t cp)
{
    return cp >= 0x80 && category_of(cp) == UTF8PROC_CATEGORY_MN;
}

bool unicode_is_word_char(int32_t cp)
{
    if (cp == 0x200c || cp == 0x200d)
        return true;
    utf8proc_category_t c = category_of(cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_ND) || c == UTF8PROC_CATEGORY_NL ||
           c == UTF8PROC_CATEGORY_PC;
}
